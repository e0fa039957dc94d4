use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tower_layer::Layer;

use super::{Retry, Shared};
use crate::policy::RetryPolicy;
use crate::stats::RetryStats;

/// Applies [`Retry`]. All services made by one layer (and their clones) share its
/// budget and its statistics.
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_retry_backoff::{RetryLayer, RetryPolicy};
///
/// # let client = tower::service_fn(|_req: http::Request<tower_retry_backoff::ReplayBody<http_body_util::Empty<bytes::Bytes>>>| async {
/// #     Ok::<_, std::io::Error>(http::Response::new(()))
/// # });
/// let retry = RetryLayer::new(RetryPolicy::new().max_attempts(4));
/// let stats = retry.stats().clone();
/// let svc = ServiceBuilder::new().layer(retry).service(client);
/// assert_eq!(stats.snapshot().calls, 0);
/// ```
pub struct RetryLayer<C, B> {
    shared: Arc<Shared<C, B>>,
}

impl<C, B> Clone for RetryLayer<C, B> {
    fn clone(&self) -> Self {
        RetryLayer {
            shared: self.shared.clone(),
        }
    }
}

impl<C: std::fmt::Debug, B: std::fmt::Debug> std::fmt::Debug for RetryLayer<C, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryLayer")
            .field("policy", &self.shared.policy)
            .finish()
    }
}

impl<C, B> RetryLayer<C, B> {
    /// A layer that retries as `policy` says.
    pub fn new(policy: RetryPolicy<C, B>) -> RetryLayer<C, B> {
        let seed = policy.seed.unwrap_or_else(|| fastrand::u64(..));
        RetryLayer {
            shared: Arc::new(Shared {
                policy,
                stats: Arc::new(RetryStats::default()),
                seed,
                draws: AtomicU64::new(0),
            }),
        }
    }

    /// The counts of this layer's services.
    pub fn stats(&self) -> &Arc<RetryStats> {
        &self.shared.stats
    }
}

impl<S, C, B> Layer<S> for RetryLayer<C, B> {
    type Service = Retry<S, C, B>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry {
            inner,
            shared: self.shared.clone(),
        }
    }
}
