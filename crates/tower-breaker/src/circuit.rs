//! The breaker's state machine, on one atomic word.
//!
//! The word packs the state, the half-open probe count and success count, and a
//! generation that every transition increments. A transition is one
//! compare-and-swap on the word, so exactly one caller makes it; a call admitted
//! under one generation reports its outcome to that generation only. Time is in
//! milliseconds since the breaker was made, passed in by the caller, so the model
//! checker and property tests can drive it.

use std::time::Duration;

use crate::config::{BreakerConfig, OpenDuration};
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use crate::window::{Counts, Outcome, Rule, Trip};

/// The state of a breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls go through and are counted.
    Closed,
    /// Calls are refused at once, until the open duration has passed.
    Open,
    /// A limited number of probes go through; their outcomes close or reopen it.
    HalfOpen,
    /// Forced open by an operator: every call is refused until released.
    ForcedOpen,
    /// Disabled by an operator: every call goes through, nothing is recorded.
    Disabled,
    /// Calls go through and are recorded, but the breaker never trips.
    MetricsOnly,
}

impl State {
    /// A short, stable, snake_case name, fit for a metrics label.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
            State::MetricsOnly => "metrics_only",
        }
    }

    /// A number for a gauge: 0 closed, 1 open, 2 half-open, 3 forced open,
    /// 4 disabled, 5 metrics-only.
    pub const fn as_gauge(self) -> f64 {
        match self {
            State::Closed => 0.0,
            State::Open => 1.0,
            State::HalfOpen => 2.0,
            State::ForcedOpen => 3.0,
            State::Disabled => 4.0,
            State::MetricsOnly => 5.0,
        }
    }
}

/// Why a breaker changed state.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// This many failures in a row.
    ConsecutiveFailures(u32),
    /// The failure rate of the window reached the threshold.
    FailureRate(Counts),
    /// The slow-call rate of the window reached the threshold.
    SlowCallRate(Counts),
    /// The open duration passed.
    OpenElapsed,
    /// A half-open probe failed.
    ProbeFailed,
    /// Enough half-open probes succeeded.
    ProbesSucceeded,
    /// An operator forced the state.
    Manual,
}

/// A change of state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Why.
    pub reason: Reason,
}

// Word layout: tag in bits 0..3, probes in flight in 3..11, probe successes in
// 11..19, generation in 19..64.
const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
const OPENING: u64 = 3;
const FORCED_OPEN: u64 = 4;
const DISABLED: u64 = 5;
const METRICS_ONLY: u64 = 6;

const TAG_MASK: u64 = 0b111;
const PROBE_SHIFT: u32 = 3;
const SUCCESS_SHIFT: u32 = 11;
const GEN_SHIFT: u32 = 19;
const BYTE: u64 = 0xff;

fn tag(word: u64) -> u64 {
    word & TAG_MASK
}
fn probes(word: u64) -> u32 {
    ((word >> PROBE_SHIFT) & BYTE) as u32
}
fn successes(word: u64) -> u32 {
    ((word >> SUCCESS_SHIFT) & BYTE) as u32
}
fn generation(word: u64) -> u64 {
    word >> GEN_SHIFT
}
fn pack(generation: u64, tag: u64, probes: u32, successes: u32) -> u64 {
    (generation << GEN_SHIFT)
        | (u64::from(successes) << SUCCESS_SHIFT)
        | (u64::from(probes) << PROBE_SHIFT)
        | tag
}
/// The word of the next generation in state `tag`, with no probes.
fn next(word: u64, tag: u64) -> u64 {
    pack(generation(word).wrapping_add(1), tag, 0, 0)
}

fn state_of(word: u64) -> State {
    match tag(word) {
        CLOSED => State::Closed,
        OPEN | OPENING => State::Open,
        HALF_OPEN => State::HalfOpen,
        FORCED_OPEN => State::ForcedOpen,
        DISABLED => State::Disabled,
        _ => State::MetricsOnly,
    }
}

/// Permission to make one call, and what to do with its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permit {
    generation: u64,
    kind: PermitKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PermitKind {
    /// Closed or metrics-only: the outcome goes to the window.
    Counted,
    /// A half-open probe: the outcome closes or reopens the breaker.
    Probe,
    /// Disabled: nothing is recorded.
    Untracked,
}

impl Permit {
    /// Whether this permit is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.kind == PermitKind::Probe
    }
}

/// The outcome of a call, for the breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The upstream answered properly.
    Success {
        /// The call was slower than the slow-call threshold.
        slow: bool,
    },
    /// The upstream failed.
    Failure {
        /// The call was slower than the slow-call threshold.
        slow: bool,
    },
    /// Says nothing about the upstream.
    Ignore,
}

/// Called with every transition, by the caller that made it.
pub type Hook = Box<dyn Fn(&Transition) + Send + Sync>;

/// The breaker's shared state.
pub struct Circuit {
    word: AtomicU64,
    /// When the current open period ends, in ms.
    open_until: AtomicU64,
    /// Trips since the breaker last closed.
    trips: AtomicU32,
    rng: AtomicU64,
    rule: Rule,
    config: BreakerConfig,
    hook: Option<Hook>,
}

impl std::fmt::Debug for Circuit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Circuit")
            .field("state", &self.state())
            .field("config", &self.config)
            .finish()
    }
}

impl Circuit {
    /// A closed breaker.
    pub fn new(config: BreakerConfig, hook: Option<Hook>) -> Circuit {
        Circuit {
            word: AtomicU64::new(pack(0, CLOSED, 0, 0)),
            open_until: AtomicU64::new(0),
            trips: AtomicU32::new(0),
            rng: AtomicU64::new(config.seed),
            rule: Rule::new(config.rule, config.slow.map(|s| s.rate)),
            config,
            hook,
        }
    }

    pub(crate) fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The state now.
    pub fn state(&self) -> State {
        state_of(self.word.load(Ordering::Acquire))
    }

    /// What the window holds at `now_ms`.
    pub fn counts(&self, now_ms: u64) -> Counts {
        self.rule.counts(now_ms)
    }

    /// How long until the breaker lets a probe through, if it is open.
    pub(crate) fn open_remaining(&self, now_ms: u64) -> Option<Duration> {
        match tag(self.word.load(Ordering::Acquire)) {
            OPEN => Some(Duration::from_millis(
                self.open_until
                    .load(Ordering::Acquire)
                    .saturating_sub(now_ms),
            )),
            OPENING => Some(self.base_open()),
            _ => None,
        }
    }

    fn base_open(&self) -> Duration {
        match self.config.open {
            OpenDuration::Fixed(d) => d,
            OpenDuration::Exponential { base, .. } => base,
        }
    }

    /// Asks to make a call at `now_ms` (read only when the breaker is open). On
    /// refusal, says how long until it half-opens.
    pub fn acquire(&self, now_ms: impl Fn() -> u64) -> Result<Permit, Duration> {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            let generation = generation(word);
            match tag(word) {
                CLOSED | METRICS_ONLY => {
                    return Ok(Permit {
                        generation,
                        kind: PermitKind::Counted,
                    });
                }
                DISABLED => {
                    return Ok(Permit {
                        generation,
                        kind: PermitKind::Untracked,
                    });
                }
                FORCED_OPEN | OPENING => return Err(self.base_open()),
                OPEN => {
                    let now = now_ms();
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        return Err(Duration::from_millis(until - now));
                    }
                    let half_open = next(word, HALF_OPEN);
                    match self.word.compare_exchange(
                        word,
                        half_open,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            self.emit(State::Open, State::HalfOpen, Reason::OpenElapsed);
                            word = half_open;
                        }
                        Err(current) => word = current,
                    }
                }
                HALF_OPEN => {
                    if probes(word) >= self.config.probes {
                        // Every probe slot is taken: try again shortly.
                        return Err(Duration::ZERO);
                    }
                    let taken = pack(generation, HALF_OPEN, probes(word) + 1, successes(word));
                    match self.word.compare_exchange(
                        word,
                        taken,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            return Ok(Permit {
                                generation,
                                kind: PermitKind::Probe,
                            });
                        }
                        Err(current) => word = current,
                    }
                }
                _ => unreachable!("no other tag is ever stored"),
            }
        }
    }

    /// Reports the outcome of a call made under `permit`.
    pub fn record(&self, permit: Permit, verdict: Verdict, now_ms: impl Fn() -> u64) {
        match permit.kind {
            PermitKind::Untracked => {}
            PermitKind::Counted => self.record_counted(permit, verdict, now_ms),
            PermitKind::Probe => self.record_probe(permit, verdict, now_ms),
        }
    }

    fn record_counted(&self, permit: Permit, verdict: Verdict, now_ms: impl Fn() -> u64) {
        let outcome = match verdict {
            Verdict::Ignore => return,
            Verdict::Success { slow } => Outcome {
                failure: false,
                slow,
            },
            Verdict::Failure { slow } => Outcome {
                failure: true,
                slow,
            },
        };
        let word = self.word.load(Ordering::Acquire);
        // An outcome of an earlier generation says nothing about this one.
        if generation(word) != permit.generation || !matches!(tag(word), CLOSED | METRICS_ONLY) {
            return;
        }
        let needs_clock = self.rule_needs_clock();
        let now = if needs_clock { now_ms() } else { 0 };
        let Some(trip) = self.rule.record(outcome, now) else {
            return;
        };
        if tag(word) == METRICS_ONLY {
            return;
        }
        let reason = match trip {
            Trip::Consecutive(n) => Reason::ConsecutiveFailures(n),
            Trip::FailureRate(counts) => Reason::FailureRate(counts),
            Trip::SlowRate(counts) => Reason::SlowCallRate(counts),
        };
        self.open(
            word,
            State::Closed,
            reason,
            if needs_clock { now } else { now_ms() },
        );
    }

    fn rule_needs_clock(&self) -> bool {
        matches!(
            self.config.rule,
            crate::config::TripRule::FailureRate {
                window: crate::config::Window::Time { .. },
                ..
            }
        )
    }

    fn record_probe(&self, permit: Permit, verdict: Verdict, now_ms: impl Fn() -> u64) {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            if generation(word) != permit.generation || tag(word) != HALF_OPEN {
                return;
            }
            let left = probes(word).saturating_sub(1);
            match verdict {
                Verdict::Failure { .. } => {
                    if self.open(word, State::HalfOpen, Reason::ProbeFailed, now_ms()) {
                        return;
                    }
                    // Another probe was taken or reported meanwhile: try again
                    // against the current word (a real transition ends the loop
                    // at the generation check).
                    word = self.word.load(Ordering::Acquire);
                }
                Verdict::Success { .. }
                    if successes(word) + 1 >= self.config.successes_to_close =>
                {
                    let closed = next(word, CLOSED);
                    match self.word.compare_exchange(
                        word,
                        closed,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            self.rule.reset();
                            self.trips.store(0, Ordering::Release);
                            self.emit(State::HalfOpen, State::Closed, Reason::ProbesSucceeded);
                            return;
                        }
                        Err(current) => word = current,
                    }
                }
                Verdict::Success { .. } | Verdict::Ignore => {
                    let counted = u32::from(matches!(verdict, Verdict::Success { .. }));
                    let updated =
                        pack(generation(word), HALF_OPEN, left, successes(word) + counted);
                    match self.word.compare_exchange(
                        word,
                        updated,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return,
                        Err(current) => word = current,
                    }
                }
            }
        }
    }

    /// Gives back a probe slot whose call ended without an outcome (its future was
    /// dropped).
    pub fn release(&self, permit: Permit) {
        if permit.kind == PermitKind::Probe {
            self.record_probe(permit, Verdict::Ignore, || 0);
        }
    }

    /// Opens the breaker from `word`, at `now`. Returns `false`, changing
    /// nothing, if `word` is no longer current.
    fn open(&self, word: u64, from: State, reason: Reason, now: u64) -> bool {
        let opening = next(word, OPENING);
        if self
            .word
            .compare_exchange(word, opening, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let trips = self.trips.fetch_add(1, Ordering::AcqRel) + 1;
        let open_for = self.open_duration(trips);
        let until = now.saturating_add(u64::try_from(open_for.as_millis()).unwrap_or(u64::MAX));
        self.open_until.store(until, Ordering::Release);
        // An operator may have forced a state while this was opening: theirs
        // stands.
        if self
            .word
            .compare_exchange(
                opening,
                pack(generation(opening), OPEN, 0, 0),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            self.emit(from, State::Open, reason);
        }
        true
    }

    fn open_duration(&self, trips: u32) -> Duration {
        match self.config.open {
            OpenDuration::Fixed(d) => d,
            OpenDuration::Exponential { base, max, jitter } => {
                let doublings = trips.saturating_sub(1).min(62);
                let grown = base.saturating_mul(1u32 << doublings.min(31)).min(max);
                let x = self.rng.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
                let factor = 1.0 - jitter + 2.0 * jitter * unit(x);
                grown.mul_f64(factor.max(0.0))
            }
        }
    }

    /// Forces a state (`Closed` closes and clears the window).
    pub fn force(&self, state: State) {
        let target = match state {
            State::Closed => CLOSED,
            State::Open | State::ForcedOpen => FORCED_OPEN,
            State::HalfOpen => HALF_OPEN,
            State::Disabled => DISABLED,
            State::MetricsOnly => METRICS_ONLY,
        };
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            let forced = next(word, target);
            match self
                .word
                .compare_exchange(word, forced, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if matches!(target, CLOSED | METRICS_ONLY | DISABLED) {
                        self.rule.reset();
                        self.trips.store(0, Ordering::Release);
                    }
                    self.emit(state_of(word), state_of(forced), Reason::Manual);
                    return;
                }
                Err(current) => word = current,
            }
        }
    }

    fn emit(&self, from: State, to: State, reason: Reason) {
        if let Some(hook) = &self.hook {
            hook(&Transition { from, to, reason });
        }
    }
}

/// A uniform number in `[0, 1)` from a counter (SplitMix64).
fn unit(x: u64) -> f64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::config::Window;

    fn failure() -> Verdict {
        Verdict::Failure { slow: false }
    }
    fn success() -> Verdict {
        Verdict::Success { slow: false }
    }

    #[test]
    fn consecutive_failures_trip_and_a_success_resets() {
        let circuit = Circuit::new(BreakerConfig::new().consecutive_failures(3), None);
        for _ in 0..2 {
            let permit = circuit.acquire(|| 0).unwrap();
            circuit.record(permit, failure(), || 0);
        }
        let permit = circuit.acquire(|| 0).unwrap();
        circuit.record(permit, success(), || 0);
        for _ in 0..2 {
            let permit = circuit.acquire(|| 0).unwrap();
            circuit.record(permit, failure(), || 0);
        }
        assert_eq!(circuit.state(), State::Closed);
        let permit = circuit.acquire(|| 0).unwrap();
        circuit.record(permit, failure(), || 0);
        assert_eq!(circuit.state(), State::Open);
        assert_eq!(circuit.acquire(|| 1000), Err(Duration::from_millis(4000)));
    }

    #[test]
    fn stale_outcomes_do_not_count() {
        let circuit = Circuit::new(BreakerConfig::new().consecutive_failures(1), None);
        let early = circuit.acquire(|| 0).unwrap();
        let permit = circuit.acquire(|| 0).unwrap();
        circuit.record(permit, failure(), || 0);
        assert_eq!(circuit.state(), State::Open);
        circuit.force(State::Closed);
        // A call admitted before the trip finishes now: it belongs to the past.
        circuit.record(early, failure(), || 0);
        assert_eq!(circuit.state(), State::Closed);
    }

    #[test]
    fn exponential_open_durations_grow_and_cap() {
        let config = BreakerConfig::new()
            .consecutive_failures(1)
            .open_exponential(Duration::from_secs(1), Duration::from_secs(5), 0.0);
        let circuit = Circuit::new(config, None);
        assert_eq!(circuit.open_duration(1), Duration::from_secs(1));
        assert_eq!(circuit.open_duration(2), Duration::from_secs(2));
        assert_eq!(circuit.open_duration(3), Duration::from_secs(4));
        assert_eq!(circuit.open_duration(4), Duration::from_secs(5));
        assert_eq!(circuit.open_duration(1000), Duration::from_secs(5));
    }

    #[test]
    fn count_window_trips_on_rate_after_minimum() {
        let config = BreakerConfig::new().failure_rate(0.5, Window::Count(10), 4);
        let circuit = Circuit::new(config, None);
        for verdict in [failure(), failure(), success()] {
            let permit = circuit.acquire(|| 0).unwrap();
            circuit.record(permit, verdict, || 0);
        }
        assert_eq!(circuit.state(), State::Closed, "3 calls: under the minimum");
        let permit = circuit.acquire(|| 0).unwrap();
        circuit.record(permit, failure(), || 0);
        assert_eq!(circuit.state(), State::Open, "3 of 4 failed");
    }
}
