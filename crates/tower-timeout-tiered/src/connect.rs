//! The connect tier: [`ConnectTimeoutLayer`] for connectors.
//!
//! Why: a hyper-util client's connector is a `Service<Uri>` that yields a
//! connection; its future covers the TCP connect and, for TLS connectors, the
//! handshake. Bounding it separately matters because a connect that hangs (a host
//! that drops SYNs, a full accept backlog) says nothing for a long time, and a
//! request that was never sent may be retried safely: the error says so
//! ([`Class::NotSent`](tower_error_class::Class::NotSent) with
//! [`NotSent::ConnectTimeout`](tower_error_class::NotSent::ConnectTimeout)).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep_until};
use tower_error_class::{BoxError, Elapsed, Error, Tier};
use tower_layer::Layer;
use tower_service::Service;

use crate::deadline::add_saturating;

/// Times out a connector's calls. See the [module docs](self).
///
/// ```
/// use std::time::Duration;
/// use hyper_util::client::legacy::{Client, connect::HttpConnector};
/// use hyper_util::rt::TokioExecutor;
/// use tower::Layer;
/// use tower_timeout_tiered::ConnectTimeoutLayer;
///
/// let connector = ConnectTimeoutLayer::new(Duration::from_millis(250)).layer(HttpConnector::new());
/// let client = Client::builder(TokioExecutor::new())
///     .build::<_, http_body_util::Empty<bytes::Bytes>>(connector);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ConnectTimeoutLayer {
    timeout: Duration,
}

impl ConnectTimeoutLayer {
    /// A connect timeout of `timeout`.
    pub fn new(timeout: Duration) -> ConnectTimeoutLayer {
        ConnectTimeoutLayer { timeout }
    }
}

impl<C> Layer<C> for ConnectTimeoutLayer {
    type Service = ConnectTimeout<C>;

    fn layer(&self, inner: C) -> Self::Service {
        ConnectTimeout {
            inner,
            timeout: self.timeout,
        }
    }
}

/// A connector whose connects time out: see [`ConnectTimeoutLayer`].
#[derive(Clone, Debug)]
pub struct ConnectTimeout<C> {
    inner: C,
    timeout: Duration,
}

impl<C, Target> Service<Target> for ConnectTimeout<C>
where
    C: Service<Target>,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = Error;
    type Future = ConnectFuture<C::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        ConnectFuture {
            inner: self.inner.call(target),
            sleep: None,
            timeout: self.timeout,
        }
    }
}

pin_project! {
    /// The future of [`ConnectTimeout`].
    ///
    /// It is `Unpin` when the connector's future is, as hyper-util requires of
    /// connectors: the timer is boxed, once per connect that is actually pending.
    /// Connects are rare next to requests (connections are pooled), so this is off
    /// the hot path.
    #[derive(Debug)]
    pub struct ConnectFuture<F> {
        #[pin]
        inner: F,
        sleep: Option<Pin<Box<Sleep>>>,
        timeout: Duration,
    }
}

impl<F, T, E> Future for ConnectFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result.map_err(Error::wrap));
        }
        let timeout = *this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(sleep_until(add_saturating(Instant::now(), timeout))));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Err(Error::from(Elapsed::new(Tier::Connect, *this.timeout))))
    }
}
