//! [`RetryPolicy`]: what is retried, how often, and how long to wait.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use tower_error_class::HttpClassifier;

use crate::backoff::{Exponential, Jitter};
use crate::budget::Budget;
use crate::stats::{Listener, RetryEvent};

/// The name of gRPC's attempt-count header (gRFC A6).
pub const GRPC_PREVIOUS_RPC_ATTEMPTS: &str = "grpc-previous-rpc-attempts";

/// What the retry layer retries, how often and how long it waits. The defaults are
/// the safe choice:
///
/// | setting | default | from |
/// |---|---|---|
/// | attempts in total | 3 | gRPC's and Envoy's defaults |
/// | what is retried | [`HttpClassifier`]'s classes, by [`Class::is_retryable`](tower_error_class::Class::is_retryable) | `tower-error-class` |
/// | idempotency | RFC 9110 methods or an `Idempotency-Key` header ([`is_idempotent`](tower_error_class::is_idempotent)) | RFC 9110 §9.2.2 |
/// | backoff | exponential from 100 ms, ×2, capped at 10 s, full jitter | the AWS SDKs, Brooker |
/// | `Retry-After` | honoured, capped at 10 s, plus up to 10% (at most 1 s) of jitter | RFC 9110 §10.2.3 |
/// | budget | 20% of requests plus 10/s, over 10 s | Finagle, tower's `TpsBudget` |
/// | replay buffer | 64 KiB of request body | |
/// | attempt header | off | gRFC A6's `grpc-previous-rpc-attempts` when on |
#[derive(Clone)]
pub struct RetryPolicy<C = HttpClassifier, B = Exponential> {
    pub(crate) max_attempts: u32,
    pub(crate) backoff: B,
    pub(crate) classifier: C,
    pub(crate) budget: Budget,
    pub(crate) retry_after_cap: Duration,
    pub(crate) replay_limit: usize,
    pub(crate) attempt_header: Option<HeaderName>,
    pub(crate) seed: Option<u64>,
    pub(crate) listener: Option<Listener>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::new()
    }
}

impl RetryPolicy {
    /// The defaults in the table above.
    pub fn new() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff: Exponential::new(Duration::from_millis(100))
                .cap(Duration::from_secs(10))
                .jitter(Jitter::Full),
            classifier: HttpClassifier::new(),
            budget: Budget::default(),
            retry_after_cap: Duration::from_secs(10),
            replay_limit: 64 * 1024,
            attempt_header: None,
            seed: None,
            listener: None,
        }
    }
}

impl<C, B> RetryPolicy<C, B> {
    /// Attempts in total, the first included: 1 disables retries, and 0 is taken as 1.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff between attempts.
    pub fn backoff<B2>(self, backoff: B2) -> RetryPolicy<C, B2> {
        RetryPolicy {
            max_attempts: self.max_attempts,
            backoff,
            classifier: self.classifier,
            budget: self.budget,
            retry_after_cap: self.retry_after_cap,
            replay_limit: self.replay_limit,
            attempt_header: self.attempt_header,
            seed: self.seed,
            listener: self.listener,
        }
    }

    /// The classifier that names each attempt's outcome (a
    /// [`GrpcClassifier`](tower_error_class::GrpcClassifier), or your own).
    pub fn classifier<C2>(self, classifier: C2) -> RetryPolicy<C2, B> {
        RetryPolicy {
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            classifier,
            budget: self.budget,
            retry_after_cap: self.retry_after_cap,
            replay_limit: self.replay_limit,
            attempt_header: self.attempt_header,
            seed: self.seed,
            listener: self.listener,
        }
    }

    /// The retry budget ([`Budget::unlimited`] turns it off).
    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// The longest `Retry-After` (or `grpc-retry-pushback-ms`) honoured; longer
    /// waits are cut to it.
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// How many bytes of request body are kept so that it can be sent again.
    pub fn replay_limit(mut self, bytes: usize) -> Self {
        self.replay_limit = bytes;
        self
    }

    /// Sends the number of earlier attempts on each retry, in `header`
    /// ([`GRPC_PREVIOUS_RPC_ATTEMPTS`] for gRPC).
    pub fn attempt_header(mut self, header: HeaderName) -> Self {
        self.attempt_header = Some(header);
        self
    }

    /// Seeds the jitter, so that runs repeat exactly.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Calls `listener` before each retry.
    pub fn on_retry(mut self, listener: impl Fn(&RetryEvent) + Send + Sync + 'static) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }
}

impl<C: fmt::Debug, B: fmt::Debug> fmt::Debug for RetryPolicy<C, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("classifier", &self.classifier)
            .field("budget", &self.budget)
            .field("retry_after_cap", &self.retry_after_cap)
            .field("replay_limit", &self.replay_limit)
            .field("attempt_header", &self.attempt_header)
            .field("seed", &self.seed)
            .field("listener", &self.listener.is_some())
            .finish()
    }
}
