//! Every tier under `tokio::time::pause()`: each fires exactly at its configured
//! instant, to the millisecond, and not one tick early.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use http::{Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tokio::time::{Instant, advance, sleep};
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_error_class::{Class, Elapsed, Error, Tier};
use tower_timeout_tiered::{
    ConnectTimeoutLayer, Deadline, DeadlineLayer, Propagation, ServerDeadlineLayer, TimeoutLayer,
};

type TestBody = StreamBody<BoxStream<'static, Result<Frame<Bytes>, Infallible>>>;

const MS: Duration = Duration::from_millis(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A body that sends a frame after each of `gaps`, then stalls forever if `stall`.
fn body(gaps: Vec<Duration>, stall: bool) -> TestBody {
    let frames = stream::iter(gaps).then(|gap| async move {
        sleep(gap).await;
        Ok(Frame::data(Bytes::from_static(b"chunk")))
    });
    let tail = if stall {
        stream::pending().boxed()
    } else {
        stream::empty().boxed()
    };
    StreamBody::new(frames.chain(tail).boxed())
}

/// An upstream that answers after `head` with a body made by `make_body`.
fn upstream(
    head: Duration,
    make_body: impl Fn() -> TestBody + Clone + Send + 'static,
) -> impl Service<Request<()>, Response = Response<TestBody>, Error = Infallible> + Clone {
    service_fn(move |_req: Request<()>| {
        let make_body = make_body.clone();
        async move {
            sleep(head).await;
            Ok::<_, Infallible>(Response::new(make_body()))
        }
    })
}

/// Polls `future` once per virtual millisecond until it is ready; returns the
/// virtual time it took and its output. Polling at every tick is what proves a
/// timeout does not fire one tick early.
async fn run_to_completion<F: Future>(future: F) -> (Duration, F::Output) {
    let start = Instant::now();
    let mut task = tokio_test::task::spawn(future);
    loop {
        if let Poll::Ready(output) = task.poll() {
            return (start.elapsed(), output);
        }
        advance(MS).await;
    }
}

/// The error of a result whose success type has no `Debug`.
fn failure<T>(result: Result<T, Error>) -> Error {
    match result {
        Ok(_) => panic!("expected the call to fail"),
        Err(err) => err,
    }
}

fn elapsed_of(err: &Error) -> Elapsed {
    *err.find::<Elapsed>()
        .expect("a timeout error carries Elapsed")
}

#[tokio::test(start_paused = true)]
async fn response_headers_tier_fires_exactly_at_its_instant() {
    let svc = TimeoutLayer::new()
        .response_headers(ms(500))
        .layer(upstream(ms(800), || body(vec![], false)));
    let (took, result) = run_to_completion(svc.oneshot(Request::new(()))).await;
    let err = failure(result);
    assert_eq!(took, ms(500));
    assert_eq!(err.class(), Class::Timeout(Tier::ResponseHeaders));
    assert_eq!(
        elapsed_of(&err),
        Elapsed::new(Tier::ResponseHeaders, ms(500))
    );
}

#[tokio::test(start_paused = true)]
async fn a_head_just_in_time_is_not_timed_out() {
    let svc = TimeoutLayer::new()
        .response_headers(ms(500))
        .layer(upstream(ms(499), || body(vec![], false)));
    let (took, result) = run_to_completion(svc.oneshot(Request::new(()))).await;
    assert!(result.is_ok());
    assert_eq!(took, ms(499));
}

#[tokio::test(start_paused = true)]
async fn attempt_tier_covers_the_body() {
    // The head arrives at 100 ms, then the body stalls after one frame.
    let svc =
        TimeoutLayer::attempt_only(ms(1000)).layer(upstream(ms(100), || body(vec![ms(50)], true)));
    let start = Instant::now();
    let response = svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(start.elapsed(), ms(100));
    let (_, result) = run_to_completion(response.into_body().collect()).await;
    let err = result.expect_err("the body stalls");
    assert_eq!(
        start.elapsed(),
        ms(1000),
        "measured from the call, not the head"
    );
    assert_eq!(elapsed_of(&err), Elapsed::new(Tier::Attempt, ms(1000)));
}

#[tokio::test(start_paused = true)]
async fn attempt_is_clamped_to_the_remaining_deadline() {
    let svc =
        TimeoutLayer::attempt_only(ms(1000)).layer(upstream(ms(5000), || body(vec![], false)));
    let mut request = Request::new(());
    Deadline::after(ms(300)).set_on(&mut request);
    advance(ms(100)).await; // 200 ms remain when the attempt starts
    let (took, result) = run_to_completion(svc.oneshot(request)).await;
    let err = failure(result);
    assert_eq!(took, ms(200));
    assert_eq!(err.class(), Class::DeadlineExceeded);
    assert_eq!(elapsed_of(&err), Elapsed::new(Tier::Total, ms(300)));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_set_outside_is_never_extended_inside() {
    let inner = DeadlineLayer::new(ms(1000)).layer(upstream(ms(5000), || body(vec![], false)));
    let svc = DeadlineLayer::new(ms(200)).layer(inner);
    let (took, result) = run_to_completion(svc.oneshot(Request::new(()))).await;
    assert_eq!(took, ms(200));
    assert_eq!(
        elapsed_of(&failure(result)),
        Elapsed::new(Tier::Total, ms(200))
    );
}

#[tokio::test(start_paused = true)]
async fn total_deadline_bounds_the_body() {
    let svc = DeadlineLayer::new(ms(700)).layer(upstream(ms(100), || body(vec![ms(100)], true)));
    let start = Instant::now();
    let response = svc.oneshot(Request::new(())).await.unwrap();
    let (_, result) = run_to_completion(response.into_body().collect()).await;
    assert_eq!(start.elapsed(), ms(700));
    assert_eq!(failure(result).class(), Class::DeadlineExceeded);
}

#[tokio::test(start_paused = true)]
async fn body_idle_resets_on_every_frame() {
    // Frames every 80 ms for 800 ms: an idle tier of 100 ms never fires. Then the
    // body stalls: it fires exactly 100 ms after the last frame.
    let svc = TimeoutLayer::new()
        .body_idle(ms(100))
        .layer(upstream(ms(0), || body(vec![ms(80); 10], true)));
    let start = Instant::now();
    let response = svc.oneshot(Request::new(())).await.unwrap();
    let mut body = std::pin::pin!(response.into_body());
    let mut frames = 0;
    let err = loop {
        let (_, frame) = run_to_completion(body.as_mut().frame()).await;
        match frame {
            Some(Ok(_)) => frames += 1,
            Some(Err(err)) => break err,
            None => panic!("the body stalls, it does not end"),
        }
    };
    assert_eq!(frames, 10);
    assert_eq!(start.elapsed(), ms(800 + 100));
    assert_eq!(elapsed_of(&err), Elapsed::new(Tier::BodyIdle, ms(100)));
}

#[tokio::test(start_paused = true)]
async fn body_total_counts_from_the_head() {
    let svc = TimeoutLayer::new()
        .body_total(ms(250))
        .layer(upstream(ms(40), || body(vec![ms(100); 5], false)));
    let start = Instant::now();
    let response = svc.oneshot(Request::new(())).await.unwrap();
    let (_, result) = run_to_completion(response.into_body().collect()).await;
    assert_eq!(start.elapsed(), ms(40 + 250));
    assert_eq!(
        elapsed_of(&failure(result)),
        Elapsed::new(Tier::BodyTotal, ms(250))
    );
}

#[tokio::test(start_paused = true)]
async fn three_tiers_on_one_request_report_the_first_to_fire() {
    let svc = TimeoutLayer::new()
        .response_headers(ms(300))
        .attempt(ms(1000))
        .body_idle(ms(200))
        .layer(upstream(ms(250), || body(vec![ms(150), ms(150)], true)));
    let start = Instant::now();
    let response = svc.oneshot(Request::new(())).await.unwrap();
    let (_, result) = run_to_completion(response.into_body().collect()).await;
    // Head at 250, frames at 400 and 550, idle fires at 750 (before the attempt).
    assert_eq!(start.elapsed(), ms(750));
    assert_eq!(
        elapsed_of(&failure(result)),
        Elapsed::new(Tier::BodyIdle, ms(200))
    );
}

#[tokio::test(start_paused = true)]
async fn connect_tier_fires_on_a_hanging_connector() {
    let connector = service_fn(|_uri: http::Uri| async {
        std::future::pending::<Result<(), std::io::Error>>().await
    });
    let svc = ConnectTimeoutLayer::new(ms(250)).layer(connector);
    let (took, result) =
        run_to_completion(svc.oneshot(http::Uri::from_static("http://127.0.0.1:9/"))).await;
    let err = failure(result);
    assert_eq!(took, ms(250));
    assert_eq!(
        err.class(),
        Class::NotSent(tower_error_class::NotSent::ConnectTimeout)
    );
    assert!(
        err.class().is_retryable(false),
        "a connect timeout is not sent"
    );
}

/// A service that is not ready until `ready_at`.
struct SlowToReady<S> {
    ready_at: Instant,
    inner: S,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S: Service<Request<()>>> Service<Request<()>> for SlowToReady<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let ready_at = self.ready_at;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(ready_at)));
        futures::ready!(sleep.as_mut().poll(cx));
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        self.inner.call(req)
    }
}

#[tokio::test(start_paused = true)]
async fn ready_time_counts_only_when_asked() {
    for (count, expected) in [(false, ms(300 + 500)), (true, ms(500))] {
        let slow = SlowToReady {
            ready_at: Instant::now() + ms(300),
            inner: upstream(ms(5000), || body(vec![], false)),
            sleep: None,
        };
        let svc = TimeoutLayer::attempt_only(ms(500))
            .count_ready_time(count)
            .layer(slow);
        let (took, result) = run_to_completion(svc.oneshot(Request::new(()))).await;
        assert_eq!(took, expected, "count_ready_time({count})");
        assert_eq!(failure(result).class(), Class::Timeout(Tier::Attempt));
    }
}

#[tokio::test(start_paused = true)]
async fn propagation_writes_the_attempts_share_of_the_deadline() {
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let echo = service_fn(move |req: Request<()>| {
        let seen_tx = seen_tx.clone();
        async move {
            seen_tx
                .send(req.headers().get("grpc-timeout").cloned())
                .unwrap();
            Ok::<_, Infallible>(Response::new(body(vec![], false)))
        }
    });
    let svc = DeadlineLayer::new(ms(5000)).layer(
        TimeoutLayer::attempt_only(ms(2000))
            .propagate(Propagation::Grpc)
            .layer(echo.clone()),
    );
    svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(seen_rx.recv().await.unwrap().unwrap(), "2000000u");

    let svc = DeadlineLayer::new(ms(700)).layer(
        TimeoutLayer::attempt_only(ms(2000))
            .propagate(Propagation::millis("x-timeout-ms"))
            .layer(service_fn(|req: Request<()>| async move {
                assert_eq!(req.headers()["x-timeout-ms"], "700");
                Ok::<_, Infallible>(Response::new(body(vec![], false)))
            })),
    );
    svc.oneshot(Request::new(())).await.unwrap();
}

fn stalling_handler(
    seen: tokio::sync::mpsc::UnboundedSender<Option<Duration>>,
) -> impl Service<Request<()>, Response = Response<TestBody>, Error = Infallible> + Clone {
    service_fn(move |req: Request<()>| {
        let seen = seen.clone();
        async move {
            seen.send(Deadline::of(&req).map(|d| d.remaining()))
                .unwrap();
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(Response::new(body(vec![], false)))
        }
    })
}

#[tokio::test(start_paused = true)]
async fn server_enforces_the_incoming_grpc_timeout() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let svc = ServerDeadlineLayer::grpc()
        .limit(ms(10_000))
        .layer(stalling_handler(tx));
    let request = Request::builder()
        .header("grpc-timeout", "250m")
        .body(())
        .unwrap();
    let (took, result) = run_to_completion(svc.oneshot(request)).await;
    assert_eq!(
        rx.recv().await.unwrap(),
        Some(ms(250)),
        "the handler sees the deadline"
    );
    assert_eq!(took, ms(250));
    let err = failure(result);
    assert_eq!(err.class(), Class::DeadlineExceeded);
    assert_eq!(err.to_grpc_response::<()>().headers()["grpc-status"], "4");
}

#[tokio::test(start_paused = true)]
async fn server_limit_wins_over_a_longer_incoming_deadline() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let svc = ServerDeadlineLayer::grpc()
        .limit(ms(100))
        .layer(stalling_handler(tx));
    let request = Request::builder()
        .header("grpc-timeout", "5S")
        .body(())
        .unwrap();
    let (took, _) = run_to_completion(svc.oneshot(request)).await;
    assert_eq!(rx.recv().await.unwrap(), Some(ms(100)));
    assert_eq!(took, ms(100));
}

#[tokio::test(start_paused = true)]
async fn malformed_incoming_deadlines_are_ignored_not_fatal() {
    for bad in ["soon", "123456789m", "-5S", "10x"] {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let svc = ServerDeadlineLayer::grpc()
            .limit(ms(50))
            .layer(stalling_handler(tx));
        let request = Request::builder()
            .header("grpc-timeout", bad)
            .body(())
            .unwrap();
        let (took, _) = run_to_completion(svc.oneshot(request)).await;
        assert_eq!(rx.recv().await.unwrap(), Some(ms(50)), "{bad}: local limit");
        assert_eq!(took, ms(50));
    }
    // Without a limit, a malformed header leaves the request without a deadline.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handler = service_fn(move |req: Request<()>| {
        let tx = tx.clone();
        async move {
            tx.send(Deadline::of(&req)).unwrap();
            Ok::<_, Infallible>(Response::new(body(vec![], false)))
        }
    });
    let svc = ServerDeadlineLayer::grpc().layer(handler);
    let request = Request::builder()
        .header("grpc-timeout", "garbage")
        .body(())
        .unwrap();
    assert!(svc.oneshot(request).await.is_ok());
    assert_eq!(rx.recv().await.unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn an_inner_error_when_the_time_is_up_is_reported_as_our_timeout() {
    // As tonic's channel does with the grpc-timeout we write: it gives up in the
    // same instant, with an error of its own.
    let giving_up = |after: Duration| {
        service_fn(move |_req: Request<()>| async move {
            sleep(after).await;
            Err::<Response<TestBody>, _>(std::io::Error::other("inner gave up"))
        })
    };
    let svc = TimeoutLayer::attempt_only(ms(500)).layer(giving_up(ms(500)));
    let err = failure(svc.oneshot(Request::new(())).await);
    assert_eq!(elapsed_of(&err), Elapsed::new(Tier::Attempt, ms(500)));

    // Before the time is up, the inner error stands.
    let svc = TimeoutLayer::attempt_only(ms(500)).layer(giving_up(ms(499)));
    let err = failure(svc.oneshot(Request::new(())).await);
    assert!(err.find::<Elapsed>().is_none());
    assert_eq!(
        err.find::<std::io::Error>().unwrap().to_string(),
        "inner gave up"
    );
}
