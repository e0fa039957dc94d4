//! Statistics and events: what the retry layer did.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tower_error_class::{Class, NotRetriedReason};

/// One retry about to happen: which attempt failed, how, and how long the layer
/// waits before the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryEvent {
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// The class of its failure.
    pub class: Class,
    /// The wait before the next attempt.
    pub delay: Duration,
}

/// A callback for each retry.
pub type Listener = Arc<dyn Fn(&RetryEvent) + Send + Sync>;

/// Counts of what happened to the calls through a retry layer (all clones share
/// them). Read with [`RetryStats::snapshot`].
#[derive(Debug, Default)]
pub struct RetryStats {
    calls: AtomicU64,
    succeeded_first: AtomicU64,
    succeeded_after_retry: AtomicU64,
    failed_after_retry: AtomicU64,
    not_retryable: AtomicU64,
    retries: AtomicU64,
    not_retried: [AtomicU64; REASONS],
}

const REASONS: usize = 7;

fn reason_index(reason: NotRetriedReason) -> usize {
    match reason {
        NotRetriedReason::AttemptsExhausted { .. } => 0,
        NotRetriedReason::NotIdempotent => 1,
        NotRetriedReason::BodyTooLarge { .. } => 2,
        NotRetriedReason::BudgetExhausted => 3,
        NotRetriedReason::DeadlineTooClose { .. } => 4,
        NotRetriedReason::ServerPushback => 5,
        _ => 6,
    }
}

const REASON_NAMES: [&str; REASONS] = [
    "attempts_exhausted",
    "not_idempotent",
    "body_too_large",
    "budget_exhausted",
    "deadline_too_close",
    "server_pushback",
    "body_failed",
];

impl RetryStats {
    pub(crate) fn call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn succeeded(&self, attempts: u32) {
        let counter = if attempts == 1 {
            &self.succeeded_first
        } else {
            &self.succeeded_after_retry
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A failure the classifier does not allow to retry at all (a 404, say).
    pub(crate) fn not_retryable(&self, attempts: u32) {
        self.failed(attempts, None);
    }

    /// A failure that could have been retried but was not, for `reason`.
    pub(crate) fn failed(&self, attempts: u32, reason: Option<NotRetriedReason>) {
        if attempts > 1 {
            self.failed_after_retry.fetch_add(1, Ordering::Relaxed);
        }
        match reason {
            Some(reason) => &self.not_retried[reason_index(reason)],
            None => &self.not_retryable,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            calls: load(&self.calls),
            succeeded_first: load(&self.succeeded_first),
            succeeded_after_retry: load(&self.succeeded_after_retry),
            failed_after_retry: load(&self.failed_after_retry),
            not_retryable: load(&self.not_retryable),
            retries: load(&self.retries),
            not_retried: std::array::from_fn(|i| load(&self.not_retried[i])),
        }
    }
}

/// The counts of a retry layer at one moment.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Calls made through the layer.
    pub calls: u64,
    /// Calls that succeeded at the first attempt.
    pub succeeded_first: u64,
    /// Calls that succeeded after one or more retries.
    pub succeeded_after_retry: u64,
    /// Calls that were retried and still failed.
    pub failed_after_retry: u64,
    /// Calls that failed in a way that is never retried (a client error, say).
    pub not_retryable: u64,
    /// Retries made (attempts after the first).
    pub retries: u64,
    not_retried: [u64; REASONS],
}

impl StatsSnapshot {
    /// Failures that were not (or no longer) retried for `reason`.
    pub fn not_retried(&self, reason: NotRetriedReason) -> u64 {
        self.not_retried[reason_index(reason)]
    }

    /// `(reason, count)` for every reason, with its metrics name.
    pub fn not_retried_by_reason(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        REASON_NAMES.iter().copied().zip(self.not_retried)
    }
}

impl fmt::Debug for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("StatsSnapshot");
        debug
            .field("calls", &self.calls)
            .field("succeeded_first", &self.succeeded_first)
            .field("succeeded_after_retry", &self.succeeded_after_retry)
            .field("failed_after_retry", &self.failed_after_retry)
            .field("not_retryable", &self.not_retryable)
            .field("retries", &self.retries);
        for (name, count) in self.not_retried_by_reason() {
            debug.field(name, &count);
        }
        debug.finish()
    }
}
