//! The windows that trip rules are computed over. Each records outcomes with a few
//! atomic operations and no lock.

use crate::config::{TripRule, Window};
use crate::sync::{AtomicU8, AtomicU32, AtomicU64, Ordering};

/// One call's outcome, as a window sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) failure: bool,
    pub(crate) slow: bool,
}

/// What a window holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls in the window (the consecutive rule keeps no window: 0, or the calls
    /// of its slow-call window when slow calls are tracked).
    pub calls: u64,
    /// Failures in the window (for the consecutive rule: failures in a row).
    pub failures: u64,
    /// Slow calls in the window.
    pub slow: u64,
}

impl Counts {
    /// Failures over calls, 0 for an empty window.
    pub fn failure_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.failures as f64 / self.calls as f64
        }
    }

    /// Slow calls over calls, 0 for an empty window.
    pub fn slow_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.slow as f64 / self.calls as f64
        }
    }
}

/// Why a window says to trip.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Trip {
    Consecutive(u32),
    FailureRate(Counts),
    SlowRate(Counts),
}

/// A trip rule and its window.
#[derive(Debug)]
pub(crate) struct Rule {
    kind: Kind,
    /// The failure-rate threshold in thousandths (none for the consecutive rule).
    failure_permille: u64,
    /// The slow-call rate threshold in thousandths, if slow calls are tracked.
    slow_permille: Option<u64>,
    min_calls: u64,
    /// The window slow calls are counted over when the rule is consecutive.
    slow_window: Option<Ring>,
}

#[derive(Debug)]
enum Kind {
    Consecutive { n: u32, run: AtomicU32 },
    Ring(Ring),
    Buckets(Buckets),
}

fn permille(rate: f64) -> u64 {
    (rate * 1000.0).round() as u64
}

impl Rule {
    pub(crate) fn new(rule: TripRule, slow_rate: Option<f64>) -> Rule {
        let slow_permille = slow_rate.map(permille);
        match rule {
            TripRule::Consecutive(n) => Rule {
                kind: Kind::Consecutive {
                    n,
                    run: AtomicU32::new(0),
                },
                failure_permille: 0,
                slow_permille,
                min_calls: 10,
                slow_window: slow_permille.map(|_| Ring::new(100)),
            },
            TripRule::FailureRate {
                threshold,
                window,
                min_calls,
            } => Rule {
                kind: match window {
                    Window::Count(n) => Kind::Ring(Ring::new(n)),
                    Window::Time { duration, buckets } => Kind::Buckets(Buckets::new(
                        (duration.as_millis() / u128::from(buckets)).max(1) as u64,
                        buckets,
                    )),
                },
                failure_permille: permille(threshold),
                slow_permille,
                min_calls: u64::from(min_calls),
                slow_window: None,
            },
        }
    }

    /// Records an outcome at `now_ms`; says whether the rule now trips.
    pub(crate) fn record(&self, outcome: Outcome, now_ms: u64) -> Option<Trip> {
        let counts = match &self.kind {
            Kind::Consecutive { n, run } => {
                if outcome.failure {
                    let in_a_row = run.fetch_add(1, Ordering::AcqRel) + 1;
                    if in_a_row >= *n {
                        return Some(Trip::Consecutive(in_a_row));
                    }
                } else if run.load(Ordering::Relaxed) != 0 {
                    // Reading first keeps a healthy breaker's cache line shared
                    // between cores: a success writes only to end a run.
                    run.store(0, Ordering::Release);
                }
                let ring = self.slow_window.as_ref()?;
                ring.record(outcome);
                // Only a slow call can make the slow rate reach its threshold.
                if !outcome.slow {
                    return None;
                }
                ring.counts()
            }
            Kind::Ring(ring) => {
                ring.record(outcome);
                if !outcome.failure && !outcome.slow {
                    return None;
                }
                ring.counts()
            }
            Kind::Buckets(buckets) => {
                buckets.record(outcome, now_ms);
                if !outcome.failure && !outcome.slow {
                    return None;
                }
                buckets.counts(now_ms)
            }
        };
        if counts.calls < self.min_calls {
            return None;
        }
        if self.failure_permille > 0
            && outcome.failure
            && counts.failures * 1000 >= self.failure_permille * counts.calls
        {
            return Some(Trip::FailureRate(counts));
        }
        if let Some(slow) = self.slow_permille
            && outcome.slow
            && counts.slow * 1000 >= slow * counts.calls
        {
            return Some(Trip::SlowRate(counts));
        }
        None
    }

    /// What the window holds at `now_ms`.
    pub(crate) fn counts(&self, now_ms: u64) -> Counts {
        match &self.kind {
            Kind::Consecutive { run, .. } => Counts {
                calls: self.slow_window.as_ref().map_or(0, |r| r.counts().calls),
                failures: u64::from(run.load(Ordering::Relaxed)),
                slow: self.slow_window.as_ref().map_or(0, |r| r.counts().slow),
            },
            Kind::Ring(ring) => ring.counts(),
            Kind::Buckets(buckets) => buckets.counts(now_ms),
        }
    }

    /// Forgets everything (when the breaker closes).
    pub(crate) fn reset(&self) {
        match &self.kind {
            Kind::Consecutive { run, .. } => run.store(0, Ordering::Release),
            Kind::Ring(ring) => ring.reset(),
            Kind::Buckets(buckets) => buckets.reset(),
        }
        if let Some(ring) = &self.slow_window {
            ring.reset();
        }
    }
}

// === impl Ring ===

const EMPTY: u8 = 0;
const SUCCESS: u8 = 1;
const FAILURE: u8 = 2;
const SLOW: u8 = 4;

/// The last `n` outcomes.
#[derive(Debug)]
struct Ring {
    slots: Box<[AtomicU8]>,
    next: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
}

impl Ring {
    fn new(n: u32) -> Ring {
        Ring {
            slots: (0..n.max(1)).map(|_| AtomicU8::new(EMPTY)).collect(),
            next: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            slow: AtomicU64::new(0),
        }
    }

    fn record(&self, outcome: Outcome) {
        let code =
            if outcome.failure { FAILURE } else { SUCCESS } | if outcome.slow { SLOW } else { 0 };
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = &self.slots[(i % self.slots.len() as u64) as usize];
        // The oldest outcome leaves as the newest enters.
        let old = slot.swap(code, Ordering::AcqRel);
        adjust(&self.failures, old & FAILURE != 0, code & FAILURE != 0);
        adjust(&self.slow, old & SLOW != 0, code & SLOW != 0);
    }

    fn counts(&self) -> Counts {
        Counts {
            calls: self
                .next
                .load(Ordering::Relaxed)
                .min(self.slots.len() as u64),
            failures: self.failures.load(Ordering::Relaxed),
            slow: self.slow.load(Ordering::Relaxed),
        }
    }

    fn reset(&self) {
        // Each slot is emptied with the same bookkeeping as a record, so a record
        // racing with the reset cannot leave a count without its slot.
        for slot in self.slots.iter() {
            let old = slot.swap(EMPTY, Ordering::AcqRel);
            adjust(&self.failures, old & FAILURE != 0, false);
            adjust(&self.slow, old & SLOW != 0, false);
        }
        self.next.store(0, Ordering::Relaxed);
    }
}

fn adjust(counter: &AtomicU64, was: bool, is: bool) {
    match (was, is) {
        (false, true) => {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        (true, false) => {
            // Saturating: a reset racing with a record must not wrap the count.
            let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
        }
        _ => {}
    }
}

// === impl Buckets ===

/// The epoch of a bucket being rolled over.
const ROLLING: u64 = u64::MAX;

/// The calls of the last `buckets × bucket_ms` milliseconds.
#[derive(Debug)]
struct Buckets {
    bucket_ms: u64,
    buckets: Box<[Bucket]>,
}

#[derive(Debug)]
struct Bucket {
    /// The bucket's index in time, plus one (zero: unused).
    epoch: AtomicU64,
    calls: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
}

impl Buckets {
    fn new(bucket_ms: u64, n: u32) -> Buckets {
        Buckets {
            bucket_ms,
            buckets: (0..n.max(1))
                .map(|_| Bucket {
                    epoch: AtomicU64::new(0),
                    calls: AtomicU64::new(0),
                    failures: AtomicU64::new(0),
                    slow: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    fn record(&self, outcome: Outcome, now_ms: u64) {
        let index = now_ms / self.bucket_ms;
        let bucket = &self.buckets[(index % self.buckets.len() as u64) as usize];
        let epoch = bucket.epoch.load(Ordering::Acquire);
        if epoch != index + 1
            && epoch != ROLLING
            && bucket
                .epoch
                .compare_exchange(epoch, ROLLING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // This bucket's old calls age out whole. Readers skip it while it is
            // rolling, so they never see the new epoch with the old counts.
            bucket.calls.store(0, Ordering::Relaxed);
            bucket.failures.store(0, Ordering::Relaxed);
            bucket.slow.store(0, Ordering::Relaxed);
            bucket.epoch.store(index + 1, Ordering::Release);
        }
        bucket.calls.fetch_add(1, Ordering::Relaxed);
        if outcome.failure {
            bucket.failures.fetch_add(1, Ordering::Relaxed);
        }
        if outcome.slow {
            bucket.slow.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counts(&self, now_ms: u64) -> Counts {
        let index = now_ms / self.bucket_ms;
        let span = self.buckets.len() as u64;
        let mut counts = Counts::default();
        for bucket in self.buckets.iter() {
            let epoch = bucket.epoch.load(Ordering::Acquire);
            // Buckets of the last `span` bucket lengths only.
            if epoch == 0 || epoch == ROLLING || epoch + span <= index + 1 {
                continue;
            }
            counts.calls += bucket.calls.load(Ordering::Relaxed);
            counts.failures += bucket.failures.load(Ordering::Relaxed);
            counts.slow += bucket.slow.load(Ordering::Relaxed);
        }
        counts
    }

    fn reset(&self) {
        for bucket in self.buckets.iter() {
            bucket.epoch.store(0, Ordering::Release);
        }
    }
}
