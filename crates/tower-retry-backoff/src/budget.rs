//! Retry budgets: a bound on retries shared by every clone of a layer, so that a
//! failing upstream sees at most a fixed share of extra load, not a retry storm.
//!
//! - [`Budget::ratio`]: retries may be at most a ratio of requests, plus a floor
//!   per second so that low traffic can still retry (Finagle's `RetryBudget` and
//!   tower's `TpsBudget`: 20% and 10/s over 10 s, the default).
//! - [`Budget::token_bucket`]: gRPC's retry throttling (gRFC A6): failures take a
//!   token, successes give back a fraction of one, and retries stop while the
//!   bucket is below half full.
//!
//! Both are lock-free. The ratio budget's per-request cost is one atomic add on a
//! counter of the calling thread's own (the counter is sharded, so threads do not
//! fight over one cache line); it reads the clock only on the retry path and on one
//! request in 64, when it rolls its one-second windows forward.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// A retry budget, shared by clones. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Budget {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Unlimited,
    Ratio(Arc<Ratio>),
    Tokens(Arc<Tokens>),
}

/// Milli-units: budgets count in thousandths of a retry.
const MILLI: u64 = 1000;

impl Default for Budget {
    /// 20% of requests plus 10 retries a second, over 10 s (Finagle's defaults).
    fn default() -> Self {
        Budget::ratio(0.2, 10, Duration::from_secs(10))
    }
}

impl Budget {
    /// No budget: every retry the policy allows is made.
    pub fn unlimited() -> Budget {
        Budget {
            kind: Kind::Unlimited,
        }
    }

    /// Retries may be at most `ratio` of the requests of the last `ttl`, plus
    /// `min_per_sec` retries a second. `ratio` is clamped to `[0, 1000]` and `ttl` to
    /// whole seconds in `[1 s, 60 s]`.
    pub fn ratio(ratio: f64, min_per_sec: u32, ttl: Duration) -> Budget {
        let ratio = if ratio.is_finite() {
            ratio.clamp(0.0, 1000.0)
        } else {
            0.0
        };
        let secs = ttl.as_secs().clamp(1, 60);
        Budget {
            kind: Kind::Ratio(Arc::new(Ratio {
                ratio_milli: (ratio * MILLI as f64).round() as u64,
                reserve_milli: u64::from(min_per_sec) * secs * MILLI,
                start: Instant::now(),
                requests: Default::default(),
                windows: (0..secs).map(|_| Window::default()).collect(),
            })),
        }
    }

    /// gRPC's retry throttling: a bucket of `max_tokens` (clamped to `[1, 1000]`),
    /// full at first; each failed attempt takes one token, each success gives back
    /// `token_ratio` (clamped to `[0, 1]`); retries are allowed only while more
    /// than half the tokens remain.
    pub fn token_bucket(max_tokens: u32, token_ratio: f64) -> Budget {
        let max = u64::from(max_tokens.clamp(1, 1000)) * MILLI;
        let ratio = if token_ratio.is_finite() {
            token_ratio.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Budget {
            kind: Kind::Tokens(Arc::new(Tokens {
                max_milli: max,
                ratio_milli: (ratio * MILLI as f64).round() as u64,
                tokens_milli: AtomicU64::new(max),
            })),
        }
    }

    /// Records a request (a first attempt).
    pub fn deposit(&self) {
        if let Kind::Ratio(ratio) = &self.kind {
            ratio.deposit();
        }
    }

    /// Records the outcome of an attempt, for the token bucket.
    pub fn record(&self, success: bool) {
        if let Kind::Tokens(tokens) = &self.kind {
            tokens.record(success);
        }
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub fn withdraw(&self) -> bool {
        match &self.kind {
            Kind::Unlimited => true,
            Kind::Ratio(ratio) => ratio.withdraw(),
            Kind::Tokens(tokens) => tokens.allows_retry(),
        }
    }

    /// How many retries the budget would allow now, in thousandths.
    pub fn balance_milli(&self) -> u64 {
        match &self.kind {
            Kind::Unlimited => u64::MAX,
            Kind::Ratio(ratio) => ratio.balance(ratio.now_sec()),
            Kind::Tokens(tokens) => tokens.tokens_milli.load(Ordering::Relaxed),
        }
    }
}

// === impl Ratio ===

#[derive(Debug)]
struct Ratio {
    ratio_milli: u64,
    reserve_milli: u64,
    start: Instant,
    /// Every request ever deposited, sharded by thread.
    requests: [Shard; SHARDS],
    /// One window a second, in a ring of `ttl` seconds.
    windows: Box<[Window]>,
}

#[derive(Debug, Default)]
struct Window {
    /// The second this window stands for, plus one (zero: never used).
    epoch: AtomicU64,
    /// `requests` when this window was opened.
    requests_at_open: AtomicU64,
    /// Retries taken in this window.
    withdrawals: AtomicU64,
}

/// How many counters the requests are spread over.
const SHARDS: usize = 8;

/// A counter on a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(AtomicU64);

/// The shard of the calling thread: threads take shards in turn.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

impl Ratio {
    fn now_sec(&self) -> u64 {
        self.start.elapsed().as_secs()
    }

    fn total_requests(&self) -> u64 {
        self.requests
            .iter()
            .map(|shard| shard.0.load(Ordering::Relaxed))
            .sum()
    }

    fn deposit(&self) {
        let n = self.requests[shard_index()]
            .0
            .fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(64) {
            // The window opens before this request.
            self.roll(self.now_sec(), self.total_requests().saturating_sub(1));
        }
    }

    /// Opens the window of `sec` if it is not open yet, counting requests from
    /// `requests`.
    fn roll(&self, sec: u64, requests: u64) -> &Window {
        let window = &self.windows[(sec % self.windows.len() as u64) as usize];
        let epoch = window.epoch.load(Ordering::Acquire);
        if epoch != sec + 1
            && window
                .epoch
                .compare_exchange(epoch, sec + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // A retry taken between the exchange and these stores may be lost: the
            // budget errs by at most the retries of one instant, and only in the
            // permissive direction for that instant.
            window.requests_at_open.store(requests, Ordering::Relaxed);
            window.withdrawals.store(0, Ordering::Relaxed);
        }
        window
    }

    /// What the windows of the last `ttl` seconds hold at `sec`: requests earned
    /// (in thousandths of a retry) and retries taken.
    fn window_totals(&self, sec: u64) -> (u64, u64) {
        let span = self.windows.len() as u64;
        let mut oldest_requests = None::<u64>;
        let mut withdrawals = 0u64;
        for window in self.windows.iter() {
            let epoch = window.epoch.load(Ordering::Acquire);
            // Windows of the last `ttl` seconds only.
            if epoch == 0 || epoch + span <= sec + 1 {
                continue;
            }
            withdrawals += window.withdrawals.load(Ordering::Acquire);
            let opened = window.requests_at_open.load(Ordering::Relaxed);
            oldest_requests = Some(oldest_requests.map_or(opened, |o| o.min(opened)));
        }
        // Requests since the oldest live window opened: never more than the
        // requests of the last `ttl`, so the budget never exceeds its ratio. With
        // no live window, no request is known to be recent.
        let requests = match oldest_requests {
            Some(oldest) => self.total_requests().saturating_sub(oldest),
            None => 0,
        };
        let earned = self.reserve_milli + self.ratio_milli.saturating_mul(requests);
        (earned, withdrawals)
    }

    /// The budget left at second `sec`, in thousandths of a retry.
    fn balance(&self, sec: u64) -> u64 {
        let (earned, withdrawals) = self.window_totals(sec);
        earned.saturating_sub(withdrawals.saturating_mul(MILLI))
    }

    /// Whether more retries were taken than earned.
    fn overdrawn(&self, sec: u64) -> bool {
        let (earned, withdrawals) = self.window_totals(sec);
        withdrawals.saturating_mul(MILLI) > earned
    }

    fn withdraw(&self) -> bool {
        let sec = self.now_sec();
        let window = self.roll(sec, self.total_requests());
        // Take first, then check: concurrent callers cannot all see the last
        // retry as theirs.
        window.withdrawals.fetch_add(1, Ordering::AcqRel);
        if self.overdrawn(sec) {
            window.withdrawals.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }
}

// === impl Tokens ===

#[derive(Debug)]
struct Tokens {
    max_milli: u64,
    ratio_milli: u64,
    tokens_milli: AtomicU64,
}

impl Tokens {
    fn record(&self, success: bool) {
        let _ = self
            .tokens_milli
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| {
                Some(if success {
                    (tokens + self.ratio_milli).min(self.max_milli)
                } else {
                    tokens.saturating_sub(MILLI)
                })
            });
    }

    fn allows_retry(&self) -> bool {
        self.tokens_milli.load(Ordering::Acquire) > self.max_milli / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ratio_budget_allows_its_floor_with_no_traffic() {
        let budget = Budget::ratio(0.2, 10, Duration::from_secs(10));
        let allowed = (0..1000).filter(|_| budget.withdraw()).count();
        assert_eq!(allowed, 100, "10/s over 10 s");
    }

    #[tokio::test(start_paused = true)]
    async fn ratio_budget_grows_with_requests_and_forgets_them_after_ttl() {
        let budget = Budget::ratio(0.5, 0, Duration::from_secs(2));
        for _ in 0..100 {
            budget.deposit();
        }
        assert_eq!(budget.balance_milli(), 50_000);
        let allowed = (0..100).filter(|_| budget.withdraw()).count();
        assert_eq!(allowed, 50);
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(!budget.withdraw(), "old requests no longer count");
    }

    #[tokio::test(start_paused = true)]
    async fn token_bucket_stops_retries_below_half() {
        let budget = Budget::token_bucket(10, 0.1);
        assert!(budget.withdraw());
        for _ in 0..5 {
            budget.record(false);
        }
        assert!(
            !budget.withdraw(),
            "5 of 10 tokens left: not more than half"
        );
        for _ in 0..10 {
            budget.record(true);
        }
        assert!(budget.withdraw(), "6 tokens: more than half");
    }
}
