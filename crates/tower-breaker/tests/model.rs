//! A property test of the state machine against a small reference model: random
//! sequences of calls, outcomes, dropped calls and clock advances; the breaker and
//! the model agree on every state and every admit/reject decision.
#![cfg(not(loom))]

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;
use tower_breaker::__private::{Circuit, Permit, Verdict};
use tower_breaker::{BreakerConfig, State, Window};

#[derive(Clone, Copy, Debug)]
enum Rule {
    Consecutive(u32),
    Count { size: u32, permille: u32, min: u32 },
}

#[derive(Clone, Copy, Debug)]
struct Setup {
    rule: Rule,
    open_ms: u64,
    probes: u32,
    to_close: u32,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Ask to make a call.
    Acquire,
    /// Finish the i-th call in flight (modulo their number) with an outcome.
    Finish(usize, Outcome),
    /// Drop the i-th call in flight without an outcome.
    Drop(usize),
    /// Let time pass.
    Advance(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Ignore,
}

/// The rules, written the plain way.
struct Model {
    setup: Setup,
    state: State,
    generation: u64,
    run: u32,
    ring: VecDeque<bool>,
    open_until: u64,
    probes: u32,
    successes: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ModelPermit {
    generation: u64,
    probe: bool,
}

impl Model {
    fn new(setup: Setup) -> Model {
        Model {
            setup,
            state: State::Closed,
            generation: 0,
            run: 0,
            ring: VecDeque::new(),
            open_until: 0,
            probes: 0,
            successes: 0,
        }
    }

    fn acquire(&mut self, now: u64) -> Result<ModelPermit, Duration> {
        if self.state == State::Open {
            if now < self.open_until {
                return Err(Duration::from_millis(self.open_until - now));
            }
            self.state = State::HalfOpen;
            self.generation += 1;
            self.probes = 0;
            self.successes = 0;
        }
        match self.state {
            State::Closed => Ok(ModelPermit {
                generation: self.generation,
                probe: false,
            }),
            State::HalfOpen if self.probes < self.setup.probes => {
                self.probes += 1;
                Ok(ModelPermit {
                    generation: self.generation,
                    probe: true,
                })
            }
            _ => Err(Duration::ZERO),
        }
    }

    fn trip(&mut self, now: u64) {
        self.state = State::Open;
        self.generation += 1;
        self.open_until = now + self.setup.open_ms;
    }

    fn finish(&mut self, permit: ModelPermit, outcome: Outcome, now: u64) {
        if permit.generation != self.generation {
            return;
        }
        if permit.probe {
            if self.state != State::HalfOpen {
                return;
            }
            match outcome {
                Outcome::Failure => self.trip(now),
                Outcome::Success if self.successes + 1 >= self.setup.to_close => {
                    self.state = State::Closed;
                    self.generation += 1;
                    self.run = 0;
                    self.ring.clear();
                }
                Outcome::Success => {
                    self.successes += 1;
                    self.probes -= 1;
                }
                Outcome::Ignore => self.probes -= 1,
            }
            return;
        }
        if self.state != State::Closed || outcome == Outcome::Ignore {
            return;
        }
        let failure = outcome == Outcome::Failure;
        match self.setup.rule {
            Rule::Consecutive(n) => {
                if failure {
                    self.run += 1;
                    if self.run >= n {
                        self.trip(now);
                    }
                } else {
                    self.run = 0;
                }
            }
            Rule::Count {
                size,
                permille,
                min,
            } => {
                if self.ring.len() == size as usize {
                    self.ring.pop_front();
                }
                self.ring.push_back(failure);
                let calls = self.ring.len() as u64;
                let failures = self.ring.iter().filter(|f| **f).count() as u64;
                if failure
                    && calls >= u64::from(min)
                    && failures * 1000 >= u64::from(permille) * calls
                {
                    self.trip(now);
                }
            }
        }
    }
}

fn setup() -> impl Strategy<Value = Setup> {
    let rule = prop_oneof![
        (1u32..5).prop_map(Rule::Consecutive),
        (1u32..8, 1u32..=1000, 1u32..8).prop_map(|(size, permille, min)| Rule::Count {
            size,
            permille,
            min: min.min(size),
        }),
    ];
    (rule, 1u64..50, 1u32..4, 1u32..4).prop_map(|(rule, open_ms, probes, to_close)| Setup {
        rule,
        open_ms,
        probes,
        to_close,
    })
}

fn op() -> impl Strategy<Value = Op> {
    let outcome = prop_oneof![
        Just(Outcome::Success),
        Just(Outcome::Failure),
        Just(Outcome::Ignore)
    ];
    prop_oneof![
        4 => Just(Op::Acquire),
        4 => (any::<usize>(), outcome).prop_map(|(i, o)| Op::Finish(i, o)),
        1 => any::<usize>().prop_map(Op::Drop),
        2 => (0u64..30).prop_map(Op::Advance),
    ]
}

fn config(setup: Setup) -> BreakerConfig {
    let config = match setup.rule {
        Rule::Consecutive(n) => BreakerConfig::new().consecutive_failures(n),
        Rule::Count {
            size,
            permille,
            min,
        } => BreakerConfig::new().failure_rate(
            f64::from(permille) / 1000.0,
            Window::Count(size),
            min,
        ),
    };
    config
        .open_for(Duration::from_millis(setup.open_ms))
        .half_open_probes(setup.probes)
        .successes_to_close(setup.to_close)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn breaker_agrees_with_the_model(setup in setup(), ops in proptest::collection::vec(op(), 1..120)) {
        let circuit = Circuit::new(config(setup), None);
        let mut model = Model::new(setup);
        let mut now = 0u64;
        let mut in_flight: Vec<(Permit, ModelPermit)> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Acquire => {
                    let real = circuit.acquire(|| now);
                    let expected = model.acquire(now);
                    match (real, expected) {
                        (Ok(permit), Ok(model_permit)) => {
                            prop_assert_eq!(permit.is_probe(), model_permit.probe, "step {}", step);
                            in_flight.push((permit, model_permit));
                        }
                        (Err(wait), Err(model_wait)) => prop_assert_eq!(wait, model_wait, "step {}", step),
                        (real, expected) => prop_assert!(false, "step {}: breaker {:?}, model {:?}", step, real, expected),
                    }
                }
                Op::Finish(i, outcome) if !in_flight.is_empty() => {
                    let (permit, model_permit) = in_flight.remove(i % in_flight.len());
                    let verdict = match outcome {
                        Outcome::Success => Verdict::Success { slow: false },
                        Outcome::Failure => Verdict::Failure { slow: false },
                        Outcome::Ignore => Verdict::Ignore,
                    };
                    circuit.record(permit, verdict, || now);
                    model.finish(model_permit, outcome, now);
                }
                Op::Drop(i) if !in_flight.is_empty() => {
                    let (permit, model_permit) = in_flight.remove(i % in_flight.len());
                    circuit.release(permit);
                    model.finish(model_permit, Outcome::Ignore, now);
                }
                Op::Advance(ms) => now += ms,
                _ => {}
            }
            prop_assert_eq!(circuit.state(), model.state, "step {}", step);
        }
    }
}
