//! The happy path (the first attempt succeeds) through `RetryLayer` with its budget
//! on, against `tower::retry::Retry` with a no-op policy and with a policy that
//! deposits into tower's `TpsBudget`, and against a bare service; one thread, and
//! two threads calling clones of one service (so the budget is shared).
//!
//! Run with `cargo bench -p tower-retry-backoff --bench retry`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::Request;
use http_body_util::Empty;
use tower::retry::budget::{Budget as _, TpsBudget};
use tower::{Layer, Service, ServiceExt};
use tower_retry_backoff::{RetryLayer, RetryPolicy};

#[path = "../tests/support/mod.rs"]
mod support;
use support::Ok200;

fn copy(req: &Request<Empty<Bytes>>) -> Request<Empty<Bytes>> {
    let mut copy = Request::new(Empty::new());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.headers_mut() = req.headers().clone();
    copy
}

/// tower's retry with a policy that never retries.
#[derive(Clone, Copy)]
struct NoRetry;

impl<Res, E> tower::retry::Policy<Request<Empty<Bytes>>, Res, E> for NoRetry {
    type Future = Ready<()>;

    fn retry(
        &mut self,
        _: &mut Request<Empty<Bytes>>,
        _: &mut Result<Res, E>,
    ) -> Option<Ready<()>> {
        None
    }

    fn clone_request(&mut self, req: &Request<Empty<Bytes>>) -> Option<Request<Empty<Bytes>>> {
        Some(copy(req))
    }
}

/// tower's retry with a policy that deposits into a `TpsBudget` on each success.
#[derive(Clone)]
struct TpsPolicy(Arc<TpsBudget>);

impl<Res, E> tower::retry::Policy<Request<Empty<Bytes>>, Res, E> for TpsPolicy {
    type Future = Ready<()>;

    fn retry(
        &mut self,
        _: &mut Request<Empty<Bytes>>,
        result: &mut Result<Res, E>,
    ) -> Option<Ready<()>> {
        match result {
            Ok(_) => {
                self.0.deposit();
                None
            }
            Err(_) => self.0.withdraw().then(|| ready(())),
        }
    }

    fn clone_request(&mut self, req: &Request<Empty<Bytes>>) -> Option<Request<Empty<Bytes>>> {
        Some(copy(req))
    }
}

fn run<S>(rt: &tokio::runtime::Runtime, svc: S, threads: u64, iters: u64) -> Duration
where
    S: Service<Request<Empty<Bytes>>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: std::fmt::Debug,
    S::Response: Send,
{
    rt.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..threads)
            .map(|_| {
                let mut svc = svc.clone();
                tokio::spawn(async move {
                    for _ in 0..iters / threads {
                        let request = Request::new(Empty::new());
                        let svc = svc.ready().await.unwrap();
                        std::hint::black_box(svc.call(request).await.unwrap());
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

fn bench(c: &mut Criterion, name: &str, threads: u64) {
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
    group.bench_function(BenchmarkId::from_parameter("bare"), |b| {
        b.iter_custom(|iters| run(&rt, Ok200, threads, iters))
    });
    group.bench_function(BenchmarkId::from_parameter("tower_retry_noop"), |b| {
        let svc = tower::retry::RetryLayer::new(NoRetry).layer(Ok200);
        b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters))
    });
    group.bench_function(BenchmarkId::from_parameter("tower_retry_tps_budget"), |b| {
        let budget = Arc::new(TpsBudget::new(Duration::from_secs(10), 10, 0.2));
        let svc = tower::retry::RetryLayer::new(TpsPolicy(budget)).layer(Ok200);
        b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters))
    });
    group.bench_function(BenchmarkId::from_parameter("retry_layer_no_budget"), |b| {
        let policy = RetryPolicy::new().budget(tower_retry_backoff::Budget::unlimited());
        let svc = RetryLayer::new(policy).layer(Ok200);
        b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters))
    });
    group.bench_function(BenchmarkId::from_parameter("retry_layer_budget"), |b| {
        let svc = RetryLayer::new(RetryPolicy::new()).layer(Ok200);
        b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters))
    });
    group.finish();
}

fn retry(c: &mut Criterion) {
    bench(c, "one_thread", 1);
    bench(c, "two_threads", 2);
}

criterion_group!(benches, retry);
criterion_main!(benches);
