//! A call through the per-attempt layer allocates nothing, whether the inner
//! future is ready at once or pending (so the timer registers). Counted with dhat's
//! allocator in testing mode; this binary holds the one test that installs it.

use std::time::Duration;

use http::Request;
use tower::{Layer, Service};
use tower_timeout_tiered::TimeoutLayer;

mod support;
use support::Upstream;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    f();
    dhat::HeapStats::get().total_blocks - before
}

#[test]
fn the_attempt_layer_allocates_nothing_per_call() {
    let _profiler = dhat::Profiler::builder().testing().build();
    assert_eq!(
        allocations_during(|| drop(std::hint::black_box(Box::new(1)))),
        1
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    for pending_once in [false, true] {
        let mut svc = TimeoutLayer::new()
            .response_headers(Duration::from_secs(1))
            .attempt(Duration::from_secs(2))
            .body_total(Duration::from_secs(1))
            .layer(Upstream { pending_once });
        let requests: Vec<Request<()>> = (0..100).map(|_| Request::new(())).collect();
        let mut responses = Vec::with_capacity(100);
        // Warm the runtime's timer (its first registration sets up the wheel).
        rt.block_on(async {
            let _ = futures::future::poll_fn(|cx| svc.poll_ready(cx)).await;
            let _ = svc.call(Request::new(())).await;
        });
        let count = allocations_during(|| {
            rt.block_on(async {
                for request in requests {
                    futures::future::poll_fn(|cx| svc.poll_ready(cx))
                        .await
                        .unwrap();
                    responses.push(svc.call(request).await.unwrap());
                }
            })
        });
        assert_eq!(
            count, 0,
            "allocations for 100 calls (pending_once: {pending_once})"
        );
    }
}
