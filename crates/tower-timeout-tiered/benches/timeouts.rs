//! The per-attempt layer against `tower::timeout::Timeout` and a bare service, in
//! one run: an inner future that is ready at once, and one that is pending once (so
//! the timer really registers); single-threaded, and two threads calling clones of
//! one service; and three tiers in one layer against one `tower::timeout`.
//!
//! Run with `cargo bench -p tower-timeout-tiered --bench timeouts`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::Request;
use tower::{Layer, Service, ServiceExt};
use tower_timeout_tiered::{DeadlineLayer, TimeoutLayer};

#[path = "../tests/support/mod.rs"]
mod support;
use support::Upstream;

const SECOND: Duration = Duration::from_secs(1);

/// Runs `iters` calls on `threads` tasks of a runtime with `threads` workers, each
/// on its own clone of `svc`, and returns the wall time.
fn run<S>(rt: &tokio::runtime::Runtime, svc: S, threads: u64, iters: u64) -> Duration
where
    S: Service<Request<()>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: std::fmt::Debug,
{
    rt.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..threads)
            .map(|_| {
                let mut svc = svc.clone();
                tokio::spawn(async move {
                    for _ in 0..iters / threads {
                        let svc = svc.ready().await.unwrap();
                        std::hint::black_box(svc.call(Request::new(())).await.unwrap());
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        start.elapsed()
    })
}

fn bench_variants(c: &mut Criterion, name: &str, threads: u64) {
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads as usize)
            .enable_time()
            .build()
            .unwrap()
    };
    let mut group = c.benchmark_group(name);
    for pending_once in [false, true] {
        let inner = Upstream { pending_once };
        let case = if pending_once {
            "pending_once"
        } else {
            "ready"
        };
        group.bench_function(BenchmarkId::new("bare", case), |b| {
            b.iter_custom(|iters| run(&rt, inner, threads, iters))
        });
        group.bench_function(BenchmarkId::new("tower_timeout", case), |b| {
            let svc = tower::timeout::TimeoutLayer::new(SECOND).layer(inner);
            b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters))
        });
        group.bench_function(BenchmarkId::new("attempt", case), |b| {
            let svc = TimeoutLayer::attempt_only(SECOND).layer(inner);
            b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters))
        });
        group.bench_function(BenchmarkId::new("three_tiers", case), |b| {
            let svc = TimeoutLayer::new()
                .response_headers(SECOND)
                .attempt(2 * SECOND)
                .body_total(SECOND)
                .layer(inner);
            b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters))
        });
        group.bench_function(BenchmarkId::new("deadline_and_attempt", case), |b| {
            let svc = DeadlineLayer::new(5 * SECOND)
                .leave_body_to_attempts()
                .layer(TimeoutLayer::attempt_only(SECOND).layer(inner));
            b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters))
        });
    }
    group.finish();
}

fn timeouts(c: &mut Criterion) {
    bench_variants(c, "one_thread", 1);
    bench_variants(c, "two_threads", 2);
}

criterion_group!(benches, timeouts);
criterion_main!(benches);
