//! The success path allocates nothing: classifying a 200, and a call through
//! `ClassifyLayer` to a ready service that answers 200. Counted with dhat's
//! allocator in testing mode; this binary holds the one test that may install it.

use std::future::Future;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service};
use tower_error_class::{Classifier, ClassifyLayer, HttpClassifier};

mod support;
use support::Ok200;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    f();
    dhat::HeapStats::get().total_blocks - before
}

#[test]
fn success_path_allocates_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();
    // The counter counts: a box is one allocation.
    assert_eq!(
        allocations_during(|| drop(std::hint::black_box(Box::new(7)))),
        1
    );

    let response = Response::new(());
    let classifier = HttpClassifier::new();
    let count = allocations_during(|| {
        for _ in 0..1000 {
            assert!(classifier.classify(Ok(&response)).is_success());
        }
    });
    assert_eq!(count, 0, "classifying a 200 allocated");

    let mut svc = ClassifyLayer::http().layer(Ok200);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    // Requests are built outside the measured section: the caller's, not ours.
    let requests: Vec<Request<()>> = (0..1000).map(|_| Request::new(())).collect();
    let mut responses = Vec::with_capacity(1000);
    let count = allocations_during(|| {
        for request in requests {
            assert!(Service::<Request<()>>::poll_ready(&mut svc, &mut cx).is_ready());
            let mut future = std::pin::pin!(svc.call(request));
            match future.as_mut().poll(&mut cx) {
                Poll::Ready(Ok(response)) => responses.push(response),
                _ => panic!("a ready service answers at once"),
            }
        }
    });
    assert_eq!(count, 0, "a call through ClassifyLayer allocated");
    assert!(responses.iter().all(|r| r.extensions().is_empty()));

    // Recording successes too is the opt-in that costs an allocation per response.
    let mut recording = ClassifyLayer::http().record_success(true).layer(Ok200);
    let request = Request::new(());
    let count = allocations_during(|| {
        let mut future = std::pin::pin!(recording.call(request));
        assert!(future.as_mut().poll(&mut cx).is_ready());
    });
    assert!(count > 0);
}
