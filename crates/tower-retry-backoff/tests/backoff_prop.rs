//! Property tests for every backoff: each wait lies in its documented interval, the
//! cap is never passed (but by the proportional factor), and one seed gives one
//! sequence.

use std::time::Duration;

use fastrand::Rng;
use proptest::prelude::*;
use tower_retry_backoff::{Backoff, Constant, Exponential, Jitter, Linear};

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
        (0.0f64..=1.0).prop_map(Jitter::Proportional),
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..10_000_000).prop_map(Duration::from_nanos),
        (0u64..100_000).prop_map(Duration::from_millis),
        Just(Duration::ZERO),
        Just(Duration::MAX),
    ]
}

/// The documented interval of a wait, given the capped un-jittered value `d`.
fn interval(jitter: Jitter, d: Duration, base: Duration, cap: Duration) -> (Duration, Duration) {
    match jitter {
        Jitter::None => (d, d),
        Jitter::Full => (Duration::ZERO, d),
        Jitter::Equal => (d / 2, d),
        Jitter::Decorrelated => (base.min(cap.max(base)), cap.max(base)),
        Jitter::Proportional(f) => {
            let scaled = |factor: f64| {
                Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
            };
            // One microsecond of slack for float rounding either way.
            let slack = Duration::from_micros(1);
            (
                scaled(1.0 - f).saturating_sub(slack),
                scaled(1.0 + f).saturating_add(slack),
            )
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn exponential_waits_lie_in_their_interval(
        base in duration(), cap in duration(), multiplier in 1.0f64..10.0,
        jitter in jitter(), seed in any::<u64>(), retries in proptest::collection::vec(any::<u32>(), 1..8),
    ) {
        prop_assume!(!matches!(jitter, Jitter::Proportional(_)) || cap < Duration::from_secs(1 << 40));
        let backoff = Exponential::new(base).multiplier(multiplier).cap(cap).jitter(jitter);
        let mut rng = Rng::with_seed(seed);
        let mut previous = None;
        for retry in retries {
            let wait = backoff.delay(retry, previous, &mut rng);
            let d = backoff.capped(retry);
            prop_assert!(d <= cap);
            let (low, high) = interval(jitter, d, base, cap);
            prop_assert!(wait >= low && wait <= high, "{wait:?} not in [{low:?}, {high:?}] ({jitter:?}, d = {d:?})");
            if !matches!(jitter, Jitter::Proportional(_)) {
                prop_assert!(wait <= cap.max(base), "{wait:?} passed the cap {cap:?}");
            }
            previous = Some(wait);
        }
    }

    #[test]
    fn linear_and_constant_stay_in_bounds(
        base in duration(), step in duration(), cap in duration(), jitter in jitter(), seed in any::<u64>(), retry in any::<u32>(),
    ) {
        let mut rng = Rng::with_seed(seed);
        let linear = Linear::new(base, step).cap(cap).jitter(jitter);
        let d = base.saturating_add(step.saturating_mul(retry)).min(cap);
        let (low, high) = interval(jitter, d, base, cap);
        let wait = linear.delay(retry, None, &mut rng);
        prop_assert!(wait >= low && wait <= high, "linear {wait:?} not in [{low:?}, {high:?}]");

        let constant = Constant::new(base).jitter(jitter);
        let (low, high) = interval(jitter, base, base, base);
        let wait = constant.delay(retry, None, &mut rng);
        prop_assert!(wait >= low && wait <= high, "constant {wait:?} not in [{low:?}, {high:?}]");
    }

    #[test]
    fn one_seed_gives_one_sequence(seed in any::<u64>(), jitter in jitter()) {
        let backoff = Exponential::new(Duration::from_millis(5)).cap(Duration::from_secs(2)).jitter(jitter);
        let sequence = |seed| {
            let mut rng = Rng::with_seed(seed);
            let mut previous = None;
            (0..20).map(|n| {
                let wait = backoff.delay(n, previous, &mut rng);
                previous = Some(wait);
                wait
            }).collect::<Vec<_>>()
        };
        prop_assert_eq!(sequence(seed), sequence(seed));
    }
}
