//! The closed path of a breaker against a bare service, `failsafe` (through a
//! small adapter) and `tower-resilience-circuitbreaker`, in one run, on one thread
//! and on two threads sharing one breaker; and the per-key layer with 1 and 1 000
//! keys.
//!
//! Run with `cargo bench -p tower-breaker --bench breaker`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use failsafe::futures::CircuitBreaker as _;
use tower::{Layer, Service, ServiceExt};
use tower_breaker::{BreakerConfig, BreakerLayer, KeyedBreakerLayer};
use tower_error_class::ErrorClassifier;

/// An upstream that succeeds at once.
#[derive(Clone, Copy)]
struct Upstream;

impl<R> Service<R> for Upstream {
    type Response = u32;
    type Error = Infallible;
    type Future = Ready<Result<u32, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: R) -> Self::Future {
        ready(Ok(7))
    }
}

/// `failsafe` has no tower layer: this adapter runs each call's future through its
/// breaker, as a user would have to. Its default configuration.
type FailsafePolicy = failsafe::failure_policy::OrElse<
    failsafe::failure_policy::SuccessRateOverTimeWindow<failsafe::backoff::EqualJittered>,
    failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::EqualJittered>,
>;

#[derive(Clone)]
struct Failsafe<S> {
    inner: S,
    breaker: failsafe::StateMachine<FailsafePolicy, ()>,
}

impl<S: Service<u32>> Service<u32> for Failsafe<S> {
    type Response = S::Response;
    type Error = failsafe::Error<S::Error>;
    type Future = failsafe::futures::ResponseFuture<S::Future, FailsafePolicy, (), failsafe::Any>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(failsafe::Error::Inner)
    }

    fn call(&mut self, req: u32) -> Self::Future {
        self.breaker.call(self.inner.call(req))
    }
}

fn run<S, R>(
    rt: &tokio::runtime::Runtime,
    svc: S,
    threads: u64,
    iters: u64,
    request: impl Fn(u64) -> R + Clone + Send + 'static,
) -> Duration
where
    S: Service<R> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: std::fmt::Debug,
    R: Send + 'static,
{
    rt.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..threads)
            .map(|t| {
                let mut svc = svc.clone();
                let request = request.clone();
                tokio::spawn(async move {
                    for i in 0..iters / threads {
                        let svc = svc.ready().await.unwrap();
                        std::hint::black_box(svc.call(request(i * threads + t)).await.unwrap());
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

fn runtime(threads: u64) -> tokio::runtime::Runtime {
    if threads == 1 {
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
    }
}

fn closed_path(c: &mut Criterion, name: &str, threads: u64) {
    let rt = runtime(threads);
    let plain = |i: u64| i as u32;
    let mut group = c.benchmark_group(name);
    group.bench_function(BenchmarkId::from_parameter("bare"), |b| {
        b.iter_custom(|iters| run(&rt, Upstream, threads, iters, plain))
    });
    group.bench_function(BenchmarkId::from_parameter("tower_breaker"), |b| {
        let svc = BreakerLayer::new(BreakerConfig::new())
            .classifier(ErrorClassifier)
            .layer(Upstream);
        b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters, plain))
    });
    group.bench_function(
        BenchmarkId::from_parameter("tower_breaker_count_window"),
        |b| {
            let config = BreakerConfig::new()
                .failure_rate(0.5, tower_breaker::Window::Count(100), 20)
                .build()
                .unwrap();
            let svc = BreakerLayer::new(config)
                .classifier(ErrorClassifier)
                .layer(Upstream);
            b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters, plain))
        },
    );
    group.bench_function(BenchmarkId::from_parameter("failsafe"), |b| {
        let svc = Failsafe {
            inner: Upstream,
            breaker: failsafe::Config::new().build(),
        };
        b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters, plain))
    });
    group.bench_function(BenchmarkId::from_parameter("tower_resilience"), |b| {
        let layer = tower_resilience_circuitbreaker::CircuitBreakerLayer::builder()
            .failure_rate_threshold(0.5)
            .sliding_window_size(100)
            .build()
            .unwrap();
        let svc = layer.layer(Upstream);
        b.iter_custom(|iters| run(&rt, svc.clone(), threads, iters, plain))
    });
    group.finish();
}

fn per_key(c: &mut Criterion) {
    let rt = runtime(1);
    let mut group = c.benchmark_group("per_key");
    for keys in [1u64, 1000] {
        let uris: std::sync::Arc<Vec<http::Uri>> = std::sync::Arc::new(
            (0..keys)
                .map(|k| format!("http://host-{k}.test/").parse().unwrap())
                .collect(),
        );
        let request = move |i: u64| {
            let mut request = http::Request::new(());
            *request.uri_mut() = uris[(i % keys) as usize].clone();
            request
        };
        group.bench_function(BenchmarkId::new("bare", keys), |b| {
            let request = request.clone();
            b.iter_custom(|iters| run(&rt, Upstream, 1, iters, request.clone()))
        });
        group.bench_function(BenchmarkId::new("keyed_breaker", keys), |b| {
            let svc = KeyedBreakerLayer::per_authority(BreakerConfig::new())
                .classifier(ErrorClassifier)
                .max_keys(2000)
                .layer(Upstream);
            let request = request.clone();
            b.iter_custom(|iters| run(&rt, svc.clone(), 1, iters, request.clone()))
        });
    }
    group.finish();
}

fn breaker(c: &mut Criterion) {
    closed_path(c, "one_thread", 1);
    closed_path(c, "two_threads", 2);
    per_key(c);
}

criterion_group!(benches, breaker);
criterion_main!(benches);
