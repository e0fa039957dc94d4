//! The total deadline: [`DeadlineLayer`] and [`WithDeadline`].
//!
//! Why: a per-attempt timeout does not bound a call that is retried: three
//! attempts of two seconds with backoff between them take more than six. The total
//! deadline sits above the retry layer and bounds everything beneath it: every
//! attempt, every backoff sleep, and the response body. It is put in the request's
//! extensions as a [`Deadline`], so the layers beneath (the retry layer, the
//! per-attempt [`crate::Timeout`]) clamp to what remains of it, and
//! handlers can read it.

use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower_error_class::{BoxError, Error};
use tower_layer::Layer;
use tower_service::Service;

use crate::timeout::{ResponseFuture, Tiers, Timeout};
use crate::wire::Propagation;
use crate::{Deadline, TimeoutBody};

/// Sets a total deadline on each request and enforces it. See the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct WithDeadline<S> {
    inner: Timeout<S>,
    total: Duration,
    bound_body: bool,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for WithDeadline<S>
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
        // The deadline is an instant, so the clock is read here; with
        // `count_ready_time`, the budget started when readiness was first awaited.
        let start = self.inner.take_ready_since().unwrap_or_else(Instant::now);
        Deadline::after_from(start, self.total).set_on(&mut request);
        self.inner
            .call_with_start(request, Some(start), self.bound_body)
    }
}

/// Applies [`WithDeadline`]: a total deadline for each request.
///
/// ```
/// use std::time::Duration;
/// use tower::ServiceBuilder;
/// use tower_timeout_tiered::{DeadlineLayer, TimeoutLayer};
///
/// # let client = tower::service_fn(|_req: http::Request<()>| async {
/// #     Ok::<_, std::io::Error>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
/// # });
/// let svc = ServiceBuilder::new()
///     .layer(DeadlineLayer::new(Duration::from_secs(5)).leave_body_to_attempts())
///     // ... the retry layer goes here ...
///     .layer(TimeoutLayer::attempt_only(Duration::from_secs(2)))
///     .service(client);
/// ```
#[derive(Clone, Debug)]
pub struct DeadlineLayer {
    total: Duration,
    propagation: Propagation,
    count_ready_time: bool,
    bound_body: bool,
}

impl DeadlineLayer {
    /// A deadline `total` after each call (a deadline already on the request that is
    /// earlier stays). Zero expires at once; a duration too large for the clock
    /// never fires. [`Timeouts`](crate::Timeouts) refuses both with a clear error.
    pub fn new(total: Duration) -> DeadlineLayer {
        DeadlineLayer {
            total,
            propagation: Propagation::None,
            count_ready_time: false,
            bound_body: true,
        }
    }

    /// Writes what remains of the deadline into each request (`grpc-timeout` or a
    /// millisecond header). When a per-attempt layer beneath propagates, leave this
    /// off: the attempt's figure is the tighter one.
    pub fn propagate(mut self, propagation: Propagation) -> DeadlineLayer {
        self.propagation = propagation;
        self
    }

    /// Starts the budget when `poll_ready` first returns `Pending` rather than at
    /// the call (see [the `poll_ready` notes](crate::timeout#poll_ready)).
    pub fn count_ready_time(mut self, count: bool) -> DeadlineLayer {
        self.count_ready_time = count;
        self
    }

    /// Does not wrap the response body: for stacks with a per-attempt
    /// [`TimeoutLayer`](crate::TimeoutLayer) beneath, which already bounds each
    /// response body by this deadline. Saves the second timer.
    pub fn leave_body_to_attempts(mut self) -> DeadlineLayer {
        self.bound_body = false;
        self
    }

    /// The total budget.
    pub fn total(&self) -> Duration {
        self.total
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = WithDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithDeadline {
            inner: Timeout::new(
                inner,
                Tiers::default(),
                self.propagation.clone(),
                self.count_ready_time,
            ),
            total: self.total,
            bound_body: self.bound_body,
        }
    }
}
