//! [`BreakerConfig`]: when a breaker trips, how long it stays open, how it
//! recovers.

use std::fmt;
use std::time::Duration;

/// When a closed breaker trips.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TripRule {
    /// `n` failures in a row; a success resets the count.
    Consecutive(u32),
    /// The failure rate over a window reaches `threshold` (0 to 1), once the window
    /// holds at least `min_calls` calls.
    FailureRate {
        /// The rate that trips the breaker, in `(0, 1]`.
        threshold: f64,
        /// The window the rate is computed over.
        window: Window,
        /// Calls the window must hold before any rate applies.
        min_calls: u32,
    },
}

/// The window of a rate rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The last `n` calls: a ring in which the oldest outcome leaves as the newest
    /// enters.
    Count(u32),
    /// The calls of the last `duration`, in `buckets` buckets: memory is bounded by
    /// the buckets, not by traffic, and whole buckets age out.
    Time {
        /// The length of the window.
        duration: Duration,
        /// How many buckets it is cut into.
        buckets: u32,
    },
}

/// How long a tripped breaker stays open.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OpenDuration {
    /// Always the same.
    Fixed(Duration),
    /// `base · 2^(trips − 1)` for consecutive trips without a close in between,
    /// capped at `max`, times `U(1 − jitter, 1 + jitter)`.
    Exponential {
        /// The first open duration.
        base: Duration,
        /// The cap (before jitter).
        max: Duration,
        /// The jitter fraction, in `[0, 1]`.
        jitter: f64,
    },
}

/// Calls slower than `threshold` are slow; when their rate over the window reaches
/// `rate`, the breaker trips, as it does for failures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlowCalls {
    /// How long a call may take before it counts as slow.
    pub threshold: Duration,
    /// The rate of slow calls that trips the breaker, in `(0, 1]`.
    pub rate: f64,
}

/// The configuration of a breaker. The defaults follow the seed's scenario and
/// common practice:
///
/// | setting | default |
/// |---|---|
/// | trip rule | 5 consecutive failures |
/// | open duration | 5 s, fixed |
/// | half-open probes in flight | 1 |
/// | successes to close | 1 |
/// | slow calls | off |
///
/// [`BreakerConfig::build`] validates it and refuses, with a reason, a zero
/// threshold, a zero window, a probe count of 0 and the like.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerConfig {
    pub(crate) rule: TripRule,
    pub(crate) open: OpenDuration,
    pub(crate) probes: u32,
    pub(crate) successes_to_close: u32,
    pub(crate) slow: Option<SlowCalls>,
    pub(crate) seed: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            rule: TripRule::Consecutive(5),
            open: OpenDuration::Fixed(Duration::from_secs(5)),
            probes: 1,
            successes_to_close: 1,
            slow: None,
            seed: 0x5eed,
        }
    }
}

impl BreakerConfig {
    /// The defaults.
    pub fn new() -> BreakerConfig {
        BreakerConfig::default()
    }

    /// Trips after `n` failures in a row.
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.rule = TripRule::Consecutive(n);
        self
    }

    /// Trips when the failure rate over `window` reaches `threshold`, once the
    /// window holds `min_calls` calls.
    pub fn failure_rate(mut self, threshold: f64, window: Window, min_calls: u32) -> Self {
        self.rule = TripRule::FailureRate {
            threshold,
            window,
            min_calls,
        };
        self
    }

    /// Counts calls slower than `threshold` as slow, and trips when their rate
    /// reaches `rate` (with a rate rule's window and minimum; with the consecutive
    /// rule, over the last 100 calls with a minimum of 10).
    pub fn slow_calls(mut self, threshold: Duration, rate: f64) -> Self {
        self.slow = Some(SlowCalls { threshold, rate });
        self
    }

    /// Stays open for `duration` after each trip.
    pub fn open_for(mut self, duration: Duration) -> Self {
        self.open = OpenDuration::Fixed(duration);
        self
    }

    /// Stays open longer after each consecutive trip: see
    /// [`OpenDuration::Exponential`].
    pub fn open_exponential(mut self, base: Duration, max: Duration, jitter: f64) -> Self {
        self.open = OpenDuration::Exponential { base, max, jitter };
        self
    }

    /// How many probes half-open lets through at once (1 to 255).
    pub fn half_open_probes(mut self, probes: u32) -> Self {
        self.probes = probes;
        self
    }

    /// How many probe successes close the breaker (1 to 255).
    pub fn successes_to_close(mut self, successes: u32) -> Self {
        self.successes_to_close = successes;
        self
    }

    /// Seeds the open-duration jitter.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validates the configuration.
    pub fn build(self) -> Result<BreakerConfig, ConfigError> {
        let rate_ok = |rate: f64| rate.is_finite() && rate > 0.0 && rate <= 1.0;
        match self.rule {
            TripRule::Consecutive(0) => {
                return Err(ConfigError("consecutive failures must be at least 1"));
            }
            TripRule::Consecutive(_) => {}
            TripRule::FailureRate {
                threshold,
                window,
                min_calls,
            } => {
                if !rate_ok(threshold) {
                    return Err(ConfigError("the failure-rate threshold must be in (0, 1]"));
                }
                if min_calls == 0 {
                    return Err(ConfigError(
                        "the minimum number of calls must be at least 1",
                    ));
                }
                check_window(window)?;
            }
        }
        if let Some(slow) = self.slow {
            if slow.threshold.is_zero() {
                return Err(ConfigError("the slow-call threshold must not be zero"));
            }
            if !rate_ok(slow.rate) {
                return Err(ConfigError("the slow-call rate must be in (0, 1]"));
            }
        }
        match self.open {
            OpenDuration::Fixed(d) if d.is_zero() => {
                return Err(ConfigError("the open duration must not be zero"));
            }
            OpenDuration::Exponential { base, max, jitter } => {
                if base.is_zero() || max < base {
                    return Err(ConfigError(
                        "the open duration's base must not be zero, nor above its max",
                    ));
                }
                if !(jitter.is_finite() && (0.0..=1.0).contains(&jitter)) {
                    return Err(ConfigError("the open duration's jitter must be in [0, 1]"));
                }
            }
            OpenDuration::Fixed(_) => {}
        }
        if !(1..=255).contains(&self.probes) {
            return Err(ConfigError("half-open probes must be between 1 and 255"));
        }
        if !(1..=255).contains(&self.successes_to_close) {
            return Err(ConfigError("successes to close must be between 1 and 255"));
        }
        Ok(self)
    }
}

fn check_window(window: Window) -> Result<(), ConfigError> {
    match window {
        Window::Count(0) => Err(ConfigError("a count window must hold at least 1 call")),
        Window::Count(n) if n > 1 << 20 => {
            Err(ConfigError("a count window holds at most 2^20 calls"))
        }
        Window::Time { duration, buckets } => {
            if buckets == 0 || buckets > 1000 {
                Err(ConfigError(
                    "a time window needs between 1 and 1000 buckets",
                ))
            } else if duration.as_millis() < u128::from(buckets) {
                Err(ConfigError(
                    "a time window's buckets must be at least 1 ms long",
                ))
            } else {
                Ok(())
            }
        }
        Window::Count(_) => Ok(()),
    }
}

/// A breaker configuration that was refused, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigError(&'static str);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid breaker configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_configurations_are_refused_with_a_reason() {
        let refused = [
            BreakerConfig::new().consecutive_failures(0),
            BreakerConfig::new().failure_rate(0.0, Window::Count(10), 5),
            BreakerConfig::new().failure_rate(f64::NAN, Window::Count(10), 5),
            BreakerConfig::new().failure_rate(0.5, Window::Count(0), 5),
            BreakerConfig::new().failure_rate(0.5, Window::Count(10), 0),
            BreakerConfig::new().failure_rate(
                0.5,
                Window::Time {
                    duration: Duration::ZERO,
                    buckets: 10,
                },
                5,
            ),
            BreakerConfig::new().open_for(Duration::ZERO),
            BreakerConfig::new().half_open_probes(0),
            BreakerConfig::new().successes_to_close(1000),
            BreakerConfig::new().slow_calls(Duration::ZERO, 0.5),
        ];
        for config in refused {
            let err = config.build().unwrap_err();
            assert!(err.to_string().starts_with("invalid breaker configuration"));
        }
        assert!(BreakerConfig::new().build().is_ok());
    }
}
