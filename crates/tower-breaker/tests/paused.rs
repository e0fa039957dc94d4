//! The breaker as a tower service, under `tokio::time::pause()`.
#![cfg(not(loom))]

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_breaker::{
    BreakerConfig, BreakerLayer, KeyedBreakerLayer, Reason, State, StateChange, Window,
};
use tower_error_class::{Class, Rejection};

/// An upstream whose status the test sets, counting the calls that reach it.
#[derive(Clone)]
struct Upstream {
    status: Arc<AtomicU32>,
    calls: Arc<AtomicU32>,
    delay: Duration,
    hang: Arc<std::sync::atomic::AtomicBool>,
}

impl Upstream {
    fn new() -> Upstream {
        Upstream {
            status: Arc::new(AtomicU32::new(200)),
            calls: Arc::new(AtomicU32::new(0)),
            delay: Duration::ZERO,
            hang: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    fn answer(&self, status: u32) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    fn service(
        &self,
    ) -> impl Service<Request<()>, Response = Response<()>, Error = Infallible> + Clone + use<>
    {
        let status = self.status.clone();
        let calls = self.calls.clone();
        let delay = self.delay;
        let hang = self.hang.clone();
        service_fn(move |_req: Request<()>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let status = status.load(Ordering::SeqCst) as u16;
            let hang = hang.load(Ordering::SeqCst);
            async move {
                if hang {
                    std::future::pending::<()>().await;
                }
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Ok(Response::builder().status(status).body(()).unwrap())
            }
        })
    }
}

/// One call through `svc`, readiness included.
async fn call<S>(svc: &mut S) -> Result<Response<()>, tower_error_class::Error>
where
    S: Service<Request<()>, Response = Response<()>, Error = tower_error_class::Error>,
{
    svc.ready().await?.call(Request::new(())).await
}

fn seed_config() -> BreakerConfig {
    BreakerConfig::new()
        .consecutive_failures(3)
        .open_for(Duration::from_secs(5))
        .successes_to_close(2)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_seed_scenario() {
    let upstream = Upstream::new();
    let changes = Arc::new(Mutex::new(Vec::new()));
    let log = changes.clone();
    let layer = BreakerLayer::new(seed_config())
        .named("unreliable")
        .on_state_change(move |change| log.lock().unwrap().push((change.from, change.to)));
    let handle = layer.handle();
    let mut svc = layer.layer(upstream.service());

    // Three failing calls open it.
    upstream.answer(500);
    for _ in 0..3 {
        let res = call(&mut svc).await.unwrap();
        assert_eq!(res.status(), 500);
    }
    assert_eq!(handle.state(), State::Open);
    assert_eq!(upstream.calls(), 3);

    // The next calls are rejected without reaching the upstream.
    for _ in 0..5 {
        let err = svc
            .ready()
            .await
            .expect("poll_ready never returns the refusal")
            .call(Request::new(()))
            .await
            .unwrap_err();
        assert_eq!(
            err.class(),
            Class::Rejected(Rejection::BreakerOpen {
                retry_after: Duration::from_secs(5)
            })
        );
    }
    assert_eq!(upstream.calls(), 3);

    // One tick before the recovery timeout: still open.
    advance(Duration::from_millis(4999)).await;
    assert!(call(&mut svc).await.is_err());
    assert_eq!(upstream.calls(), 3);

    // After 5 s one probe is admitted; a second caller meanwhile is refused.
    advance(Duration::from_millis(1)).await;
    upstream.answer(200);
    let probe = svc.ready().await.unwrap().call(Request::new(()));
    assert_eq!(handle.state(), State::HalfOpen);
    let refused = call(&mut svc).await;
    assert!(
        refused.unwrap_err().is_rejected(),
        "only one probe at a time"
    );
    assert_eq!(probe.await.unwrap().status(), 200);
    assert_eq!(handle.state(), State::HalfOpen, "one success of two");

    // The second success closes it.
    let res = call(&mut svc).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(upstream.calls(), 5);
    assert_eq!(
        *changes.lock().unwrap(),
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_it() {
    let upstream = Upstream::new();
    let layer = BreakerLayer::new(seed_config());
    let handle = layer.handle();
    let mut svc = layer.layer(upstream.service());
    upstream.answer(503);
    for _ in 0..3 {
        call(&mut svc).await.unwrap();
    }
    advance(Duration::from_secs(5)).await;
    call(&mut svc).await.unwrap();
    assert_eq!(handle.state(), State::Open);
    assert_eq!(handle.open_remaining(), Some(Duration::from_secs(5)));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_gives_its_slot_back() {
    use futures::FutureExt;
    let mut upstream = Upstream::new();
    upstream.hang = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let layer = BreakerLayer::new(seed_config());
    let handle = layer.handle();
    let mut svc = layer.layer(upstream.service());
    upstream.answer(500);
    for _ in 0..3 {
        call(&mut svc).await.unwrap();
    }
    advance(Duration::from_secs(5)).await;
    upstream.hang.store(true, Ordering::SeqCst);
    // The probe is admitted, and hangs; its future is dropped before it finishes.
    let mut probe = Box::pin(svc.ready().await.unwrap().call(Request::new(())));
    assert!(probe.as_mut().now_or_never().is_none(), "admitted, pending");
    assert_eq!(handle.state(), State::HalfOpen);
    let refused = svc
        .ready()
        .await
        .unwrap()
        .call(Request::new(()))
        .now_or_never();
    assert!(
        matches!(refused, Some(Err(ref e)) if e.is_rejected()),
        "the slot is taken"
    );
    drop(probe);
    // The slot is back: the next call is admitted as a probe.
    let next = svc
        .ready()
        .await
        .unwrap()
        .call(Request::new(()))
        .now_or_never();
    assert!(next.is_none(), "admitted, pending");
    assert_eq!(upstream.calls(), 5);
}

#[tokio::test(start_paused = true)]
async fn the_count_window_really_slides() {
    // Rate 50% over the last 10 calls: a long healthy history does not dilute a
    // new burst of failures.
    let upstream = Upstream::new();
    let config = BreakerConfig::new()
        .failure_rate(0.5, Window::Count(10), 10)
        .build()
        .unwrap();
    let layer = BreakerLayer::new(config);
    let handle = layer.handle();
    let mut svc = layer.layer(upstream.service());
    for _ in 0..1000 {
        call(&mut svc).await.unwrap();
    }
    upstream.answer(502);
    for n in 1..=5 {
        call(&mut svc).await.unwrap();
        let expected = if n < 5 { State::Closed } else { State::Open };
        assert_eq!(handle.state(), expected, "after {n} failures");
    }
}

#[tokio::test(start_paused = true)]
async fn the_time_window_forgets_old_buckets() {
    let upstream = Upstream::new();
    let config = BreakerConfig::new()
        .failure_rate(
            0.5,
            Window::Time {
                duration: Duration::from_secs(10),
                buckets: 10,
            },
            4,
        )
        .build()
        .unwrap();
    let layer = BreakerLayer::new(config);
    let handle = layer.handle();
    let mut svc = layer.layer(upstream.service());
    upstream.answer(500);
    for _ in 0..3 {
        call(&mut svc).await.unwrap();
    }
    assert_eq!(handle.counts().failures, 3);
    advance(Duration::from_secs(11)).await;
    assert_eq!(handle.counts().calls, 0, "the old buckets aged out");
    // One more failure among successes: 1 of 4 is under 50%.
    upstream.answer(200);
    for _ in 0..3 {
        call(&mut svc).await.unwrap();
    }
    upstream.answer(500);
    call(&mut svc).await.unwrap();
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.counts().failures, 1);
}

#[tokio::test(start_paused = true)]
async fn client_errors_and_throttling_are_not_failures() {
    let upstream = Upstream::new();
    let layer = BreakerLayer::new(seed_config());
    let handle = layer.handle();
    let mut svc = layer.layer(upstream.service());
    for status in [404, 429, 400, 404, 429, 409] {
        upstream.answer(status);
        call(&mut svc).await.unwrap();
    }
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.counts().failures, 0);
}

#[tokio::test(start_paused = true)]
async fn slow_calls_trip_it() {
    let mut upstream = Upstream::new();
    upstream.delay = Duration::from_millis(300);
    let config = BreakerConfig::new()
        .failure_rate(0.5, Window::Count(4), 4)
        .slow_calls(Duration::from_millis(200), 0.75)
        .build()
        .unwrap();
    let layer = BreakerLayer::new(config);
    let handle = layer.handle();
    let mut svc = layer.layer(upstream.service());
    for n in 1..=4 {
        call(&mut svc).await.unwrap();
        let expected = if n < 4 { State::Closed } else { State::Open };
        assert_eq!(handle.state(), expected, "after {n} slow calls");
    }
}

#[tokio::test(start_paused = true)]
async fn open_durations_grow_with_consecutive_trips() {
    let upstream = Upstream::new();
    let config = BreakerConfig::new()
        .consecutive_failures(1)
        .open_exponential(Duration::from_secs(1), Duration::from_secs(3), 0.0)
        .build()
        .unwrap();
    let layer = BreakerLayer::new(config);
    let handle = layer.handle();
    let mut svc = layer.layer(upstream.service());
    upstream.answer(500);
    let mut opens = Vec::new();
    for _ in 0..4 {
        call(&mut svc).await.unwrap();
        let open = handle.open_remaining().unwrap();
        opens.push(open);
        advance(open).await;
    }
    assert_eq!(
        opens,
        [1, 2, 3, 3].map(Duration::from_secs),
        "each failed probe reopens for longer, up to the cap"
    );
}

#[tokio::test(start_paused = true)]
async fn backpressure_waits_in_poll_ready_instead_of_refusing() {
    let upstream = Upstream::new();
    let layer = BreakerLayer::new(seed_config()).backpressure(true);
    let handle = layer.handle();
    let mut svc = layer.layer(upstream.service());
    upstream.answer(500);
    for _ in 0..3 {
        call(&mut svc).await.unwrap();
    }
    assert_eq!(handle.state(), State::Open);
    let start = tokio::time::Instant::now();
    svc.ready().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    upstream.answer(200);
    let res = svc.call(Request::new(())).await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(start_paused = true)]
async fn operators_force_states() {
    let upstream = Upstream::new();
    let layer = BreakerLayer::new(seed_config());
    let handle = layer.handle();
    let mut events = layer.subscribe();
    let mut svc = layer.layer(upstream.service());
    handle.force_open();
    assert!(call(&mut svc).await.is_err());
    assert_eq!(upstream.calls(), 0);
    handle.disable();
    upstream.answer(500);
    for _ in 0..10 {
        call(&mut svc).await.unwrap();
    }
    assert_eq!(
        handle.state(),
        State::Disabled,
        "records nothing, never trips"
    );
    handle.metrics_only();
    for _ in 0..10 {
        call(&mut svc).await.unwrap();
    }
    assert_eq!(handle.state(), State::MetricsOnly);
    assert!(handle.counts().failures >= 3, "records");
    handle.auto();
    assert_eq!(handle.state(), State::Closed);
    let first: StateChange = events.recv().await.unwrap();
    assert_eq!((first.from, first.to), (State::Closed, State::ForcedOpen));
    assert_eq!(first.reason, Reason::Manual);
}

#[tokio::test(start_paused = true)]
async fn one_breaker_per_host() {
    let upstream = Upstream::new();
    let layer = KeyedBreakerLayer::per_authority(seed_config());
    let mut events = layer.subscribe();
    let mut svc = layer.layer(upstream.service());
    let to = |host: &str| Request::get(format!("http://{host}/")).body(()).unwrap();
    upstream.answer(500);
    for _ in 0..3 {
        svc.ready()
            .await
            .unwrap()
            .call(to("bad.test:80"))
            .await
            .unwrap();
    }
    upstream.answer(200);
    assert!(
        svc.ready()
            .await
            .unwrap()
            .call(to("bad.test:80"))
            .await
            .is_err()
    );
    let ok = svc
        .ready()
        .await
        .unwrap()
        .call(to("good.test:80"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(layer.handle("bad.test:80").unwrap().state(), State::Open);
    assert_eq!(layer.handle("good.test:80").unwrap().state(), State::Closed);
    let change = events.recv().await.unwrap();
    assert_eq!(change.key.as_deref(), Some("bad.test:80"));
    assert_eq!(change.reason, Reason::ConsecutiveFailures(3));
}

#[tokio::test(start_paused = true)]
async fn per_key_breakers_are_bounded_and_keep_open_ones_longest() {
    let upstream = Upstream::new();
    let layer = KeyedBreakerLayer::per_authority(seed_config()).max_keys(3);
    let mut svc = layer.layer(upstream.service());
    let to = |host: &str| Request::get(format!("http://{host}/")).body(()).unwrap();
    upstream.answer(500);
    for _ in 0..3 {
        svc.ready()
            .await
            .unwrap()
            .call(to("down.test"))
            .await
            .unwrap();
    }
    upstream.answer(200);
    for host in ["a.test", "b.test", "c.test", "d.test"] {
        advance(Duration::from_millis(10)).await;
        svc.ready().await.unwrap().call(to(host)).await.unwrap();
    }
    assert_eq!(layer.handles().len(), 3);
    assert!(
        layer.handle("down.test").is_some(),
        "the open breaker is kept"
    );
    let kept: Vec<_> = layer
        .handles()
        .iter()
        .map(|h| (h.key().unwrap().to_owned(), h.state()))
        .collect();
    assert!(
        layer.handle("a.test").is_none(),
        "the idlest closed one went: {kept:?}"
    );
}
