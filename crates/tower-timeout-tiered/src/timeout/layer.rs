use std::time::Duration;

use tower_layer::Layer;

use super::{Tiers, Timeout};
use crate::wire::Propagation;

/// Applies [`Timeout`]: the tiers of one attempt, clamped to the request's
/// [`Deadline`](crate::Deadline).
///
/// Each tier is off until set. Durations are taken as given: zero fires at once,
/// and a duration too large for the clock never fires; to have such values refused
/// with a clear error, build the layer from [`Timeouts`](crate::Timeouts).
///
/// ```
/// use std::time::Duration;
/// use tower::ServiceBuilder;
/// use tower_timeout_tiered::TimeoutLayer;
///
/// # let client = tower::service_fn(|_req: http::Request<()>| async {
/// #     Ok::<_, std::io::Error>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
/// # });
/// let svc = ServiceBuilder::new()
///     .layer(
///         TimeoutLayer::new()
///             .response_headers(Duration::from_millis(500))
///             .attempt(Duration::from_secs(2))
///             .body_idle(Duration::from_secs(1)),
///     )
///     .service(client);
/// ```
#[derive(Clone, Debug, Default)]
pub struct TimeoutLayer {
    tiers: Tiers,
    propagation: Propagation,
    count_ready_time: bool,
}

impl TimeoutLayer {
    /// A layer with no tier of its own: it still enforces the request's deadline.
    pub fn new() -> TimeoutLayer {
        TimeoutLayer::default()
    }

    /// A layer with only a per-attempt timeout.
    pub fn attempt_only(timeout: Duration) -> TimeoutLayer {
        TimeoutLayer::new().attempt(timeout)
    }

    /// Times the whole attempt, response head and body.
    pub fn attempt(mut self, timeout: Duration) -> TimeoutLayer {
        self.tiers.attempt = Some(timeout);
        self
    }

    /// Times the wait for the response head (time to first byte).
    pub fn response_headers(mut self, timeout: Duration) -> TimeoutLayer {
        self.tiers.response_headers = Some(timeout);
        self
    }

    /// Fails the body when no frame arrives for `timeout`.
    pub fn body_idle(mut self, timeout: Duration) -> TimeoutLayer {
        self.tiers.body_idle = Some(timeout);
        self
    }

    /// Fails the body when it is not read in full within `timeout` of the head.
    pub fn body_total(mut self, timeout: Duration) -> TimeoutLayer {
        self.tiers.body_total = Some(timeout);
        self
    }

    /// Writes the time this attempt will wait (the deadline's remainder, clamped to
    /// the attempt timeout) into each request, as `grpc-timeout` or a millisecond
    /// header.
    pub fn propagate(mut self, propagation: Propagation) -> TimeoutLayer {
        self.propagation = propagation;
        self
    }

    /// Counts the time spent waiting in `poll_ready` against the tiers (see the
    /// [module docs](crate::timeout#poll_ready)). Off by default.
    pub fn count_ready_time(mut self, count: bool) -> TimeoutLayer {
        self.count_ready_time = count;
        self
    }

    #[cfg(test)]
    pub(crate) fn tiers(&self) -> Tiers {
        self.tiers
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::new(
            inner,
            self.tiers,
            self.propagation.clone(),
            self.count_ready_time,
        )
    }
}
