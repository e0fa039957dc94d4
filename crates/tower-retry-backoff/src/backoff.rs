//! Backoff: how long to wait before each retry.
//!
//! A [`Backoff`] gives the wait before retry `n` (the first retry is `n = 0`). The
//! strategies grow a base value ([`Constant`], [`Linear`], [`Exponential`]), cap
//! it, and then apply [`Jitter`], so that clients that failed together do not all
//! come back together, not even at the cap (Marc Brooker, "Exponential Backoff and
//! Jitter", AWS Architecture Blog, 2015).
//!
//! Every random draw comes from a [`fastrand::Rng`] passed in by the caller, so a
//! seeded generator gives the same sequence every time.

use std::time::Duration;

use fastrand::Rng;

/// The wait before each retry.
pub trait Backoff {
    /// The wait before retry `retry` (0 for the first retry). `previous` is the wait
    /// before the previous retry, if there was one (decorrelated jitter grows from
    /// it).
    fn delay(&self, retry: u32, previous: Option<Duration>, rng: &mut Rng) -> Duration;
}

impl<B: Backoff + ?Sized> Backoff for &B {
    fn delay(&self, retry: u32, previous: Option<Duration>, rng: &mut Rng) -> Duration {
        (**self).delay(retry, previous, rng)
    }
}

impl<B: Backoff + ?Sized> Backoff for std::sync::Arc<B> {
    fn delay(&self, retry: u32, previous: Option<Duration>, rng: &mut Rng) -> Duration {
        (**self).delay(retry, previous, rng)
    }
}

/// How a capped wait is randomised. With `d` the capped wait of the strategy,
/// `base` its first wait and `cap` its cap:
///
/// | jitter | wait | interval |
/// |---|---|---|
/// | `None` | `d` | exactly `d` |
/// | `Full` | `U(0, d)` | `[0, d]` |
/// | `Equal` | `d/2 + U(0, d/2)` | `[d/2, d]` |
/// | `Decorrelated` | `min(cap, U(base, 3·previous))`, `previous` starting at `base` | `[base, cap]` |
/// | `Proportional(f)` | `d · U(1−f, 1+f)`, as gRPC | `[d(1−f), d(1+f)]`: the only one that may pass the cap |
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Jitter {
    /// No randomness: every client waits exactly as long.
    None,
    /// `U(0, d)`: the fewest total calls under contention (Brooker).
    #[default]
    Full,
    /// `d/2 + U(0, d/2)`: never less than half the wait.
    Equal,
    /// `min(cap, U(base, 3·previous))`: grows from the previous wait, not from the
    /// attempt number.
    Decorrelated,
    /// `d · U(1−f, 1+f)` for a fraction `f` in `[0, 1]` (gRPC uses 0.2).
    Proportional(f64),
}

impl Jitter {
    /// Applies the jitter to `capped`.
    fn apply(
        self,
        capped: Duration,
        base: Duration,
        cap: Duration,
        previous: Option<Duration>,
        rng: &mut Rng,
    ) -> Duration {
        match self {
            Jitter::None => capped,
            Jitter::Full => uniform(rng, Duration::ZERO, capped),
            Jitter::Equal => {
                let half = capped / 2;
                half + uniform(rng, Duration::ZERO, capped - half)
            }
            Jitter::Decorrelated => {
                let previous = previous.unwrap_or(base).max(base);
                let high = previous.saturating_mul(3).max(base);
                uniform(rng, base, high).min(cap.max(base))
            }
            Jitter::Proportional(fraction) => {
                let fraction = if fraction.is_finite() {
                    fraction.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let factor = 1.0 - fraction + 2.0 * fraction * rng.f64();
                scale(capped, factor)
            }
        }
    }
}

/// A uniform draw in `[low, high]`, to the nanosecond.
fn uniform(rng: &mut Rng, low: Duration, high: Duration) -> Duration {
    if high <= low {
        return low;
    }
    let span = (high - low).as_nanos();
    let offset = match u64::try_from(span) {
        Ok(span) => rng.u64(0..=span),
        // Spans beyond 584 years: a float draw is precise enough.
        Err(_) => (rng.f64() * span as f64) as u64,
    };
    low.saturating_add(Duration::from_nanos(offset))
}

/// `duration · factor`, saturating, for a non-negative finite factor.
fn scale(duration: Duration, factor: f64) -> Duration {
    let nanos = duration.as_nanos() as f64 * factor;
    if nanos.is_nan() || nanos <= 0.0 {
        return Duration::ZERO;
    }
    // Infinity lands here too: a growth past the clock saturates.
    if nanos >= Duration::MAX.as_nanos() as f64 {
        return Duration::MAX;
    }
    Duration::new((nanos / 1e9).floor() as u64, (nanos % 1e9).floor() as u32)
}

/// The same wait before every retry, then jitter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Constant {
    delay: Duration,
    jitter: Jitter,
}

impl Constant {
    /// Waits `delay` before every retry, with no jitter.
    pub fn new(delay: Duration) -> Constant {
        Constant {
            delay,
            jitter: Jitter::None,
        }
    }

    /// Sets the jitter.
    pub fn jitter(mut self, jitter: Jitter) -> Constant {
        self.jitter = jitter;
        self
    }
}

impl Backoff for Constant {
    fn delay(&self, _retry: u32, previous: Option<Duration>, rng: &mut Rng) -> Duration {
        self.jitter
            .apply(self.delay, self.delay, self.delay, previous, rng)
    }
}

/// `base + step·n`, capped, then jitter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linear {
    base: Duration,
    step: Duration,
    cap: Duration,
    jitter: Jitter,
}

impl Linear {
    /// Waits `base`, then `base + step`, `base + 2·step`, ... with no cap and no
    /// jitter.
    pub fn new(base: Duration, step: Duration) -> Linear {
        Linear {
            base,
            step,
            cap: Duration::MAX,
            jitter: Jitter::None,
        }
    }

    /// Caps the wait (before jitter).
    pub fn cap(mut self, cap: Duration) -> Linear {
        self.cap = cap;
        self
    }

    /// Sets the jitter.
    pub fn jitter(mut self, jitter: Jitter) -> Linear {
        self.jitter = jitter;
        self
    }
}

impl Backoff for Linear {
    fn delay(&self, retry: u32, previous: Option<Duration>, rng: &mut Rng) -> Duration {
        let grown = self
            .base
            .saturating_add(self.step.saturating_mul(retry))
            .min(self.cap);
        self.jitter.apply(grown, self.base, self.cap, previous, rng)
    }
}

/// `base · multiplier^n`, capped, then jitter: "exponential" that is what the name
/// says, and that cannot overflow whatever the retry number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exponential {
    base: Duration,
    multiplier: f64,
    cap: Duration,
    jitter: Jitter,
}

impl Exponential {
    /// Waits `base`, `2·base`, `4·base`, ... capped at 10 s, with full jitter (the
    /// AWS SDKs' choice, and Brooker's recommendation).
    pub fn new(base: Duration) -> Exponential {
        Exponential {
            base,
            multiplier: 2.0,
            cap: Duration::from_secs(10),
            jitter: Jitter::Full,
        }
    }

    /// Sets the multiplier (2 by default). A multiplier below 1, or not finite, is
    /// taken as 1.
    pub fn multiplier(mut self, multiplier: f64) -> Exponential {
        self.multiplier = if multiplier.is_finite() && multiplier >= 1.0 {
            multiplier
        } else {
            1.0
        };
        self
    }

    /// Caps the wait (before jitter).
    pub fn cap(mut self, cap: Duration) -> Exponential {
        self.cap = cap;
        self
    }

    /// Sets the jitter.
    pub fn jitter(mut self, jitter: Jitter) -> Exponential {
        self.jitter = jitter;
        self
    }

    /// The wait before retry `retry`, capped, before jitter.
    pub fn capped(&self, retry: u32) -> Duration {
        let factor = self
            .multiplier
            .powi(i32::try_from(retry).unwrap_or(i32::MAX));
        scale(self.base, factor).min(self.cap)
    }
}

impl Backoff for Exponential {
    fn delay(&self, retry: u32, previous: Option<Duration>, rng: &mut Rng) -> Duration {
        self.jitter
            .apply(self.capped(retry), self.base, self.cap, previous, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn exponential_without_jitter_doubles_up_to_the_cap() {
        let backoff = Exponential::new(100 * MS)
            .cap(Duration::from_secs(1))
            .jitter(Jitter::None);
        let mut rng = Rng::with_seed(1);
        let waits: Vec<_> = (0..6).map(|n| backoff.delay(n, None, &mut rng)).collect();
        assert_eq!(
            waits,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
    }

    #[test]
    fn exponential_never_overflows() {
        let backoff = Exponential::new(Duration::from_secs(1)).jitter(Jitter::None);
        let mut rng = Rng::with_seed(1);
        assert_eq!(
            backoff.delay(u32::MAX, None, &mut rng),
            Duration::from_secs(10)
        );
        let uncapped = Exponential::new(Duration::from_secs(1))
            .cap(Duration::MAX)
            .multiplier(1e300)
            .jitter(Jitter::Proportional(1.0));
        assert!(uncapped.delay(u32::MAX, None, &mut rng) <= Duration::MAX);
    }

    #[test]
    fn sub_millisecond_precision() {
        let backoff = Exponential::new(Duration::from_micros(150)).jitter(Jitter::None);
        let mut rng = Rng::with_seed(1);
        assert_eq!(backoff.delay(1, None, &mut rng), Duration::from_micros(300));
    }

    #[test]
    fn linear_grows_by_its_step() {
        let backoff = Linear::new(100 * MS, 50 * MS).cap(220 * MS);
        let mut rng = Rng::with_seed(1);
        let waits: Vec<_> = (0..4).map(|n| backoff.delay(n, None, &mut rng)).collect();
        assert_eq!(waits, [100 * MS, 150 * MS, 200 * MS, 220 * MS]);
    }
}
