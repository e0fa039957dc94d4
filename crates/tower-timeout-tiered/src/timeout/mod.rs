//! The per-attempt [`Timeout`]: response headers, attempt and body tiers under one
//! timer, clamped to the request's [`Deadline`].
//!
//! Why: `tower::timeout` knows one duration and one error (`Elapsed`, as a
//! `BoxError`), knows nothing of the caller's deadline, and stops timing when the
//! response head arrives, though a stalled body hangs the caller just as well.
//! `Timeout` times every tier of one attempt:
//!
//! - *response headers*: from the call until the response head (time to first
//!   byte);
//! - *attempt*: the whole attempt, head and body;
//! - *body idle*: no body frame for too long (reset by every frame);
//! - *body total*: the whole body, from the head on;
//! - and the request's [`Deadline`], if a layer above set one: no tier outlives it.
//!
//! All the tiers of a request share one `Sleep`, set to whichever fires first, and
//! the timer is registered only when the inner future or the body is actually
//! pending: a response that is ready at once costs no timer and no clock read. A
//! tier that is not configured costs nothing.
//!
//! When the clocks start, precisely: the response-headers and attempt tiers
//! start at the first poll that finds the inner future pending (a response
//! future is polled as soon as it is made, so in practice at the call; time spent
//! inside that first poll is not counted); the body tiers, and an attempt tier
//! whose clock had not started, start at the body's first pending poll. The
//! deadline is an instant and needs no start.
//!
//! # `poll_ready`
//!
//! By default the time a caller spends waiting in `poll_ready` does not count
//! against any tier, as with `tower::timeout` (see tower issue #648): the clock of
//! an attempt starts when it is called. With
//! [`TimeoutLayer::count_ready_time`], it starts when `poll_ready` first returned
//! `Pending` for that call. `poll_ready` itself never fails for a timeout (a
//! readiness error is fatal to many services, `Buffer` among them), so a wait that
//! outlasts a tier makes the call fail at once instead.

use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower_error_class::{BoxError, Error};
use tower_service::Service;

use crate::Deadline;
use crate::wire::Propagation;

mod future;
mod layer;

pub use future::ResponseFuture;
pub use layer::TimeoutLayer;

/// The tiers of one attempt, each `None` when not configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tiers {
    pub(crate) response_headers: Option<Duration>,
    pub(crate) attempt: Option<Duration>,
    pub(crate) body_idle: Option<Duration>,
    pub(crate) body_total: Option<Duration>,
}

/// Times out one attempt by tier: see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    tiers: Tiers,
    propagation: Propagation,
    count_ready_time: bool,
    ready_since: Option<Instant>,
}

impl<S> Timeout<S> {
    pub(crate) fn new(
        inner: S,
        tiers: Tiers,
        propagation: Propagation,
        count_ready_time: bool,
    ) -> Timeout<S> {
        Timeout {
            inner,
            tiers,
            propagation,
            count_ready_time,
            ready_since: None,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Timeout<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<crate::TimeoutBody<ResBody>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.inner.poll_ready(cx) {
            Poll::Pending => {
                if self.count_ready_time && self.ready_since.is_none() {
                    self.ready_since = Some(Instant::now());
                }
                Poll::Pending
            }
            Poll::Ready(result) => Poll::Ready(result.map_err(Error::wrap)),
        }
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let start = self.ready_since.take();
        self.call_with_start(request, start, true)
    }
}

impl<S> Timeout<S> {
    pub(crate) fn take_ready_since(&mut self) -> Option<Instant> {
        self.ready_since.take()
    }

    /// Calls the inner service with the attempt's clock started at `start` (or
    /// lazily, when `None`).
    pub(crate) fn call_with_start<ReqBody, ResBody>(
        &mut self,
        mut request: http::Request<ReqBody>,
        mut start: Option<Instant>,
        bound_body: bool,
    ) -> ResponseFuture<S::Future>
    where
        S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    {
        let deadline = Deadline::of(&request);
        if !self.propagation.is_none() {
            let start = *start.get_or_insert_with(Instant::now);
            if let Some(remaining) = propagated(self.tiers, deadline, start) {
                self.propagation.write(request.headers_mut(), remaining);
            }
        }
        ResponseFuture::new(
            self.inner.call(request),
            self.tiers,
            deadline,
            start,
            bound_body,
        )
    }
}

/// What to tell the server: the time this attempt will wait, the smaller of the
/// deadline's remainder and the attempt's own timeout.
fn propagated(tiers: Tiers, deadline: Option<Deadline>, start: Instant) -> Option<Duration> {
    let from_deadline = deadline.map(|d| d.instant().saturating_duration_since(start));
    match (from_deadline, tiers.attempt) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
