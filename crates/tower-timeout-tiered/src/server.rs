//! The deadline on the server side: [`ServerDeadlineLayer`].
//!
//! Why: a client that gives up after 300 ms does not want the server to go on
//! working for it for ten seconds. gRPC clients send their remaining time as
//! `grpc-timeout`; this layer reads it (or a millisecond header of your choice),
//! makes the smaller of it and the server's own limit the request's [`Deadline`]
//! (which the handler can read from the extensions), and enforces it: when it
//! passes, the handler's future is dropped and the call fails with a deadline
//! error. Stack [`ErrorResponseLayer`](tower_error_class::ErrorResponseLayer) above
//! it to answer 504 (HTTP) or `DEADLINE_EXCEEDED` (gRPC, with
//! `ErrorResponseLayer::grpc()`).
//!
//! A malformed header is ignored with a `tracing` warning: the request is served
//! under the local limit, never refused for it.

use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower_error_class::{BoxError, Error};
use tower_layer::Layer;
use tower_service::Service;

use crate::timeout::{ResponseFuture, Tiers, Timeout};
use crate::wire::Propagation;
use crate::{Deadline, TimeoutBody};

/// Reads the caller's deadline from the request and enforces it. See the
/// [module docs](self).
///
/// ```
/// use std::time::Duration;
/// use tower::ServiceBuilder;
/// use tower_error_class::ErrorResponseLayer;
/// use tower_timeout_tiered::ServerDeadlineLayer;
///
/// # let handler = tower::service_fn(|_req: http::Request<()>| async {
/// #     Ok::<_, std::io::Error>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
/// # });
/// // A tonic-style server: `grpc-timeout` in, DEADLINE_EXCEEDED out.
/// let svc = ServiceBuilder::new()
///     .layer(ErrorResponseLayer::grpc())
///     .layer(ServerDeadlineLayer::grpc().limit(Duration::from_secs(30)))
///     .service(handler);
/// ```
#[derive(Clone, Debug)]
pub struct ServerDeadlineLayer {
    propagation: Propagation,
    limit: Option<Duration>,
}

impl ServerDeadlineLayer {
    /// Reads `grpc-timeout`.
    pub fn grpc() -> ServerDeadlineLayer {
        ServerDeadlineLayer {
            propagation: Propagation::Grpc,
            limit: None,
        }
    }

    /// Reads the timeout where `propagation` says.
    pub fn new(propagation: Propagation) -> ServerDeadlineLayer {
        ServerDeadlineLayer {
            propagation,
            limit: None,
        }
    }

    /// The server's own limit: no request runs longer, whatever its caller asks.
    pub fn limit(mut self, limit: Duration) -> ServerDeadlineLayer {
        self.limit = Some(limit);
        self
    }
}

impl<S> Layer<S> for ServerDeadlineLayer {
    type Service = ServerDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerDeadline {
            inner: Timeout::new(inner, Tiers::default(), Propagation::None, false),
            propagation: self.propagation.clone(),
            limit: self.limit,
        }
    }
}

/// Enforces the caller's deadline on the server: see [`ServerDeadlineLayer`].
#[derive(Clone, Debug)]
pub struct ServerDeadline<S> {
    inner: Timeout<S>,
    propagation: Propagation,
    limit: Option<Duration>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for ServerDeadline<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<TimeoutBody<ResBody>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let incoming = match self.propagation.read(request.headers()) {
            Ok(incoming) => incoming,
            Err(header) => {
                tracing::warn!(
                    header = %header,
                    value = ?request.headers().get(&header),
                    "ignoring a malformed deadline header"
                );
                None
            }
        };
        let budget = match (incoming, self.limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let start = budget.map(|budget| {
            let now = Instant::now();
            Deadline::after_from(now, budget).set_on(&mut request);
            now
        });
        self.inner.call_with_start(request, start, true)
    }
}
