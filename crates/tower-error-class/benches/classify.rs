//! Classification cost: a 200, a 503 with Retry-After, and `ClassifyLayer` around a
//! ready service against the bare service, in one run.
//!
//! Run with `cargo bench -p tower-error-class --bench classify`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use tower::{Layer, Service};
use tower_error_class::{Classifier, ClassifyLayer, HttpClassifier};

#[path = "../tests/support/mod.rs"]
mod support;
use support::Ok200;

fn call_once<S>(svc: &mut S, cx: &mut Context<'_>) -> Response<()>
where
    S: Service<Request<()>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    assert!(svc.poll_ready(cx).is_ready());
    let mut future = pin!(svc.call(Request::new(())));
    match future.as_mut().poll(cx) {
        Poll::Ready(result) => result.unwrap(),
        Poll::Pending => unreachable!("the service is always ready"),
    }
}

fn classify(c: &mut Criterion) {
    let classifier = HttpClassifier::new();
    let ok = Response::new(());
    let throttled = Response::builder()
        .status(503)
        .header("retry-after", "3")
        .body(())
        .unwrap();

    let mut group = c.benchmark_group("classify");
    group.bench_function("http_200", |b| {
        b.iter(|| classifier.classify(Ok(black_box(&ok))))
    });
    group.bench_function("http_503_retry_after", |b| {
        b.iter(|| classifier.classify(Ok(black_box(&throttled))))
    });
    group.finish();

    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut group = c.benchmark_group("service");
    let mut bare = Ok200;
    group.bench_function("bare", |b| b.iter(|| call_once(&mut bare, &mut cx)));
    let mut layered = ClassifyLayer::http().layer(Ok200);
    group.bench_function("classify_layer", |b| {
        b.iter(|| call_once(&mut layered, &mut cx))
    });
    group.finish();
}

criterion_group!(benches, classify);
criterion_main!(benches);
