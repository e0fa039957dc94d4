//! A call that succeeds at the first attempt, with the budget on and a body that
//! needs no replay, allocates nothing. Counted with dhat's allocator in testing
//! mode; this binary holds the one test that installs it.

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use tower::{Layer, Service};
use tower_retry_backoff::{RetryLayer, RetryPolicy};

mod support;
use support::Ok200;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[test]
fn a_first_attempt_success_allocates_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut svc = RetryLayer::new(RetryPolicy::new()).layer(Ok200);
    let requests: Vec<Request<Empty<Bytes>>> =
        (0..200).map(|_| Request::new(Empty::new())).collect();
    let mut responses = Vec::with_capacity(200);
    // Warm up: thread-locals and the runtime's first use.
    rt.block_on(async {
        futures::future::poll_fn(|cx| Service::<Request<Empty<Bytes>>>::poll_ready(&mut svc, cx))
            .await
            .unwrap();
        svc.call(Request::new(Empty::<Bytes>::new())).await.unwrap();
    });
    let before = dhat::HeapStats::get().total_blocks;
    rt.block_on(async {
        for request in requests {
            futures::future::poll_fn(|cx| {
                Service::<Request<Empty<Bytes>>>::poll_ready(&mut svc, cx)
            })
            .await
            .unwrap();
            responses.push(svc.call(request).await.unwrap());
        }
    });
    let allocations = dhat::HeapStats::get().total_blocks - before;
    assert_eq!(allocations, 0, "allocations for 200 successful calls");
    assert_eq!(allocations_of_a_box(), 1, "the counter counts");
}

fn allocations_of_a_box() -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    drop(std::hint::black_box(Box::new(1u8)));
    dhat::HeapStats::get().total_blocks - before
}
