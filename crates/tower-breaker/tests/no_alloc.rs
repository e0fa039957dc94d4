//! A call through a closed breaker allocates nothing. Counted with dhat's
//! allocator in testing mode; this binary holds the one test that installs it.
#![cfg(not(loom))]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use tower::{Layer, Service};
use tower_breaker::{BreakerConfig, BreakerLayer, Window};
use tower_error_class::ErrorClassifier;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[derive(Clone, Copy)]
struct Upstream;

impl Service<u32> for Upstream {
    type Response = u32;
    type Error = Infallible;
    type Future = Ready<Result<u32, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u32) -> Self::Future {
        ready(Ok(req))
    }
}

#[test]
fn the_closed_path_allocates_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let configs = [
        BreakerConfig::new(),
        BreakerConfig::new().failure_rate(0.5, Window::Count(100), 10),
        BreakerConfig::new().failure_rate(
            0.5,
            Window::Time {
                duration: std::time::Duration::from_secs(10),
                buckets: 10,
            },
            10,
        ),
    ];
    for config in configs {
        let mut svc = BreakerLayer::new(config.build().unwrap())
            .classifier(ErrorClassifier)
            .layer(Upstream);
        let before = dhat::HeapStats::get().total_blocks;
        rt.block_on(async {
            for i in 0..200 {
                futures::future::poll_fn(|cx| svc.poll_ready(cx))
                    .await
                    .unwrap();
                assert_eq!(svc.call(i).await.unwrap(), i);
            }
        });
        let allocations = dhat::HeapStats::get().total_blocks - before;
        assert_eq!(allocations, 0, "{config:?}");
    }
    let before = dhat::HeapStats::get().total_blocks;
    drop(std::hint::black_box(Box::new(1u8)));
    assert_eq!(
        dhat::HeapStats::get().total_blocks - before,
        1,
        "the counter counts"
    );
}
