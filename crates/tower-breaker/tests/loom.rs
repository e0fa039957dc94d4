//! Model-checked concurrency of the state machine: `loom` explores every
//! interleaving of the threads below. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p tower-breaker --test loom --release`.
#![cfg(loom)]

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use tower_breaker::__private::{Circuit, Verdict};
use tower_breaker::BreakerConfig;

fn failure() -> Verdict {
    Verdict::Failure { slow: false }
}

/// A breaker tripped open at 0 ms by one failure.
fn tripped(config: BreakerConfig) -> Arc<Circuit> {
    let circuit = Arc::new(Circuit::new(config, None));
    let permit = circuit.acquire(|| 0).unwrap();
    circuit.record(permit, failure(), || 0);
    circuit
}

fn counting(config: BreakerConfig) -> (Arc<Circuit>, Arc<AtomicUsize>) {
    let transitions = Arc::new(AtomicUsize::new(0));
    let counter = transitions.clone();
    let circuit = Circuit::new(
        config,
        Some(Box::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })),
    );
    (Arc::new(circuit), transitions)
}

#[test]
fn concurrent_failures_trip_exactly_once() {
    loom::model(|| {
        let config = BreakerConfig::new()
            .consecutive_failures(2)
            .build()
            .unwrap();
        let (circuit, transitions) = counting(config);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let circuit = circuit.clone();
                thread::spawn(move || {
                    let permit = circuit.acquire(|| 0).unwrap();
                    circuit.record(permit, failure(), || 0);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(transitions.load(Ordering::SeqCst), 1);
        assert_eq!(circuit.state(), tower_breaker::State::Open);
    });
}

#[test]
fn failures_admitted_together_trip_once() {
    loom::model(|| {
        let config = BreakerConfig::new()
            .consecutive_failures(1)
            .build()
            .unwrap();
        let (circuit, transitions) = counting(config);
        // Both calls are admitted before either fails.
        let first = circuit.acquire(|| 0).unwrap();
        let second = circuit.acquire(|| 0).unwrap();
        let a = {
            let circuit = circuit.clone();
            thread::spawn(move || circuit.record(first, failure(), || 0))
        };
        let b = {
            let circuit = circuit.clone();
            thread::spawn(move || circuit.record(second, failure(), || 0))
        };
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(transitions.load(Ordering::SeqCst), 1, "one trip, not two");
    });
}

#[test]
fn half_open_never_admits_more_probes_than_permitted() {
    loom::model(|| {
        let config = BreakerConfig::new()
            .consecutive_failures(1)
            .open_for(Duration::from_millis(10))
            .build()
            .unwrap();
        let circuit = tripped(config);
        // Open until 10 ms; at 100 ms two callers race to half-open and probe.
        let admitted = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let circuit = circuit.clone();
                let admitted = admitted.clone();
                thread::spawn(move || {
                    if circuit.acquire(|| 100).is_ok() {
                        admitted.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(admitted.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_dropped_probe_returns_its_slot() {
    loom::model(|| {
        let config = BreakerConfig::new()
            .consecutive_failures(1)
            .open_for(Duration::from_millis(10))
            .build()
            .unwrap();
        let circuit = tripped(config);
        let probe = circuit.acquire(|| 100).unwrap();
        assert!(probe.is_probe());
        let dropper = {
            let circuit = circuit.clone();
            thread::spawn(move || circuit.release(probe))
        };
        let racer = {
            let circuit = circuit.clone();
            thread::spawn(move || circuit.acquire(|| 100).ok())
        };
        dropper.join().unwrap();
        if let Some(permit) = racer.join().unwrap() {
            circuit.release(permit);
        }
        // Whatever the interleaving, the slot is free again now.
        assert!(circuit.acquire(|| 100).is_ok());
    });
}

#[test]
fn a_failed_probe_is_not_lost_to_a_concurrent_probe() {
    loom::model(|| {
        let config = BreakerConfig::new()
            .consecutive_failures(1)
            .open_for(Duration::from_millis(10))
            .half_open_probes(2)
            .successes_to_close(2)
            .build()
            .unwrap();
        let circuit = tripped(config);
        let probe = circuit.acquire(|| 100).unwrap();
        assert!(probe.is_probe());
        let failing = {
            let circuit = circuit.clone();
            thread::spawn(move || circuit.record(probe, failure(), || 100))
        };
        let racer = {
            let circuit = circuit.clone();
            thread::spawn(move || {
                let _ = circuit.acquire(|| 100);
            })
        };
        failing.join().unwrap();
        racer.join().unwrap();
        // Whatever the interleaving, the failed probe reopened the breaker.
        assert_eq!(circuit.state(), tower_breaker::State::Open);
    });
}
