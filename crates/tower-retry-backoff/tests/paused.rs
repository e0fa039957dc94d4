//! The retry layer under `tokio::time::pause()` with a seeded generator: exact
//! waits, the deadline, Retry-After, idempotency, the budget.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_error_class::{
    Class, Code, Error, NotRetried, NotRetriedReason, NotSent, Throttle, response_class,
};
use tower_retry_backoff::{
    Budget, Constant, Exponential, GRPC_PREVIOUS_RPC_ATTEMPTS, Jitter, ReplayBody, RetryLayer,
    RetryPolicy,
};
use tower_timeout_tiered::Deadline;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

type Body = ReplayBody<Empty<Bytes>>;

/// When each attempt arrived, and its attempt-number header.
type Seen = Arc<Mutex<Vec<(Instant, Option<String>)>>>;

/// What the upstream answers to each attempt.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Status(u16),
    RetryAfter(u16, u64),
    Refused,
    Reset,
}

/// An upstream that answers attempt `i` with `answers[i]` (the last one repeats),
/// and records when each attempt arrived.
fn upstream(
    answers: Vec<Answer>,
) -> (
    impl Service<Request<Body>, Response = Response<()>, Error = io::Error> + Clone,
    Seen,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let svc = service_fn(move |req: Request<Body>| {
        let attempts_header = req
            .headers()
            .get(GRPC_PREVIOUS_RPC_ATTEMPTS)
            .map(|v| v.to_str().unwrap().to_owned());
        let n = {
            let mut log = log.lock().unwrap();
            log.push((Instant::now(), attempts_header));
            log.len() - 1
        };
        let answer = answers[n.min(answers.len() - 1)];
        async move {
            match answer {
                Answer::Status(status) => Ok(Response::builder().status(status).body(()).unwrap()),
                Answer::RetryAfter(status, secs) => Ok(Response::builder()
                    .status(status)
                    .header("retry-after", secs)
                    .body(())
                    .unwrap()),
                Answer::Refused => Err(io::Error::from(io::ErrorKind::ConnectionRefused)),
                Answer::Reset => Err(io::Error::from(io::ErrorKind::ConnectionReset)),
            }
        }
    });
    (svc, seen)
}

fn request(method: &str) -> Request<Empty<Bytes>> {
    Request::builder()
        .method(method)
        .uri("http://upstream/")
        .body(Empty::new())
        .unwrap()
}

fn exact_policy() -> RetryPolicy<tower_error_class::HttpClassifier, Exponential> {
    RetryPolicy::new()
        .backoff(Exponential::new(ms(100)).cap(ms(1000)).jitter(Jitter::None))
        .budget(Budget::unlimited())
        .seed(42)
}

fn failure<T>(result: Result<T, Error>) -> Error {
    match result {
        Ok(_) => panic!("expected the call to fail"),
        Err(err) => err,
    }
}

fn gaps(seen: &Mutex<Vec<(Instant, Option<String>)>>) -> Vec<Duration> {
    let seen = seen.lock().unwrap();
    seen.windows(2).map(|w| w[1].0 - w[0].0).collect()
}

#[tokio::test(start_paused = true)]
async fn waits_the_backoff_before_each_attempt() {
    let (svc, seen) = upstream(vec![Answer::Status(503)]);
    let svc = RetryLayer::new(exact_policy().max_attempts(4)).layer(svc);
    let response = svc.oneshot(request("GET")).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(gaps(&seen), [ms(100), ms(200), ms(400)]);
    assert_eq!(
        response.extensions().get::<NotRetriedReason>(),
        Some(&NotRetriedReason::AttemptsExhausted { attempts: 4 })
    );
    assert_eq!(
        response_class(&response),
        Class::ServerError(Code::Http(http::StatusCode::SERVICE_UNAVAILABLE))
    );
}

#[tokio::test(start_paused = true)]
async fn seeded_full_jitter_repeats_exactly() {
    let run = || async {
        let (svc, seen) = upstream(vec![Answer::Status(502)]);
        let policy = exact_policy()
            .max_attempts(5)
            .backoff(Exponential::new(ms(100)).jitter(Jitter::Full));
        let svc = RetryLayer::new(policy).layer(svc);
        svc.oneshot(request("GET")).await.unwrap();
        gaps(&seen)
    };
    let first = run().await;
    assert_eq!(first, run().await);
    // Each wait lies in [0, 100·2^n].
    for (n, gap) in first.iter().enumerate() {
        assert!(*gap <= ms(100 << n), "{gap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn succeeds_after_a_retry_and_sends_the_attempt_number() {
    let (svc, seen) = upstream(vec![Answer::Reset, Answer::Status(200)]);
    let layer = RetryLayer::new(
        exact_policy().attempt_header(http::HeaderName::from_static(GRPC_PREVIOUS_RPC_ATTEMPTS)),
    );
    let stats = layer.stats().clone();
    let response = layer.layer(svc).oneshot(request("GET")).await.unwrap();
    assert_eq!(response.status(), 200);
    let headers: Vec<_> = seen.lock().unwrap().iter().map(|s| s.1.clone()).collect();
    assert_eq!(headers, [None, Some("1".to_owned())]);
    let snapshot = stats.snapshot();
    assert_eq!(snapshot.succeeded_after_retry, 1);
    assert_eq!(snapshot.retries, 1);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_stops_retries() {
    let (svc, seen) = upstream(vec![Answer::Status(503)]);
    let svc = RetryLayer::new(exact_policy().max_attempts(10)).layer(svc);
    let mut req = request("GET");
    Deadline::after(ms(350)).set_on(&mut req);
    let start = Instant::now();
    let response = svc.oneshot(req).await.unwrap();
    // Attempts at 0, 100 and 300 ms; the next wait (400 ms) does not fit.
    assert_eq!(gaps(&seen), [ms(100), ms(200)]);
    assert_eq!(
        start.elapsed(),
        ms(300),
        "stopped at once, without sleeping"
    );
    assert_eq!(
        response.extensions().get::<NotRetriedReason>(),
        Some(&NotRetriedReason::DeadlineTooClose {
            remaining: ms(50),
            wait: ms(400)
        })
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_deadline_fails_at_once_with_the_throttled_class() {
    let (svc, seen) = upstream(vec![Answer::RetryAfter(429, 2)]);
    let svc = RetryLayer::new(exact_policy()).layer(svc);
    let mut req = request("POST");
    Deadline::after(ms(1000)).set_on(&mut req);
    let start = Instant::now();
    let response = svc.oneshot(req).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(
        response_class(&response),
        Class::Throttled(Throttle {
            code: Code::Http(http::StatusCode::TOO_MANY_REQUESTS),
            retry_after: Some(Duration::from_secs(2)),
        })
    );
    assert!(matches!(
        response.extensions().get::<NotRetriedReason>(),
        Some(NotRetriedReason::DeadlineTooClose { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn retry_after_replaces_the_backoff() {
    let (svc, seen) = upstream(vec![Answer::RetryAfter(503, 3), Answer::Status(200)]);
    let svc = RetryLayer::new(exact_policy()).layer(svc);
    let response = svc.oneshot(request("POST")).await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "a throttle may be retried even for POST"
    );
    let gap = gaps(&seen)[0];
    // 3 s plus at most 10% (capped at 1 s) of positive jitter.
    assert!(gap >= Duration::from_secs(3) && gap <= ms(3300), "{gap:?}");
}

#[tokio::test(start_paused = true)]
async fn post_is_not_retried_after_a_503_but_is_after_a_refused_connection() {
    let (svc, seen) = upstream(vec![Answer::Status(503), Answer::Status(200)]);
    let response = RetryLayer::new(exact_policy())
        .layer(svc)
        .oneshot(request("POST"))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(
        response.extensions().get::<NotRetriedReason>(),
        Some(&NotRetriedReason::NotIdempotent)
    );

    let (svc, seen) = upstream(vec![Answer::Refused, Answer::Status(200)]);
    let response = RetryLayer::new(exact_policy())
        .layer(svc)
        .oneshot(request("POST"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn post_after_a_reset_fails_with_not_idempotent_and_its_class() {
    let (svc, _) = upstream(vec![Answer::Reset]);
    let err = failure(
        RetryLayer::new(exact_policy())
            .layer(svc)
            .oneshot(request("POST"))
            .await,
    );
    assert_eq!(
        err.class(),
        Class::Transport(tower_error_class::Transport::Reset)
    );
    assert_eq!(
        err.find::<NotRetried>().map(NotRetried::reason),
        Some(NotRetriedReason::NotIdempotent)
    );
}

#[tokio::test(start_paused = true)]
async fn exhausted_attempts_keep_the_last_class() {
    let (svc, seen) = upstream(vec![Answer::Refused]);
    let err = failure(
        RetryLayer::new(exact_policy())
            .layer(svc)
            .oneshot(request("POST"))
            .await,
    );
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(err.class(), Class::NotSent(NotSent::ConnectRefused));
    assert_eq!(
        err.find::<NotRetried>().map(NotRetried::reason),
        Some(NotRetriedReason::AttemptsExhausted { attempts: 3 })
    );
}

#[tokio::test(start_paused = true)]
async fn client_errors_are_never_retried() {
    let (svc, seen) = upstream(vec![Answer::Status(404)]);
    let layer = RetryLayer::new(exact_policy());
    let stats = layer.stats().clone();
    let response = layer.layer(svc).oneshot(request("GET")).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(stats.snapshot().not_retryable, 1);
}

#[tokio::test(start_paused = true)]
async fn the_budget_holds_retries_to_its_ratio_under_sustained_failure() {
    // 10 000 requests over 10 s (one a millisecond), every attempt failing.
    let (svc, seen) = upstream(vec![Answer::Status(503)]);
    let layer = RetryLayer::new(
        exact_policy()
            .backoff(Constant::new(Duration::ZERO))
            .budget(Budget::ratio(0.2, 10, Duration::from_secs(10))),
    );
    let stats = layer.stats().clone();
    let svc = layer.layer(svc);
    for _ in 0..10_000 {
        svc.clone().oneshot(request("GET")).await.unwrap();
        tokio::time::advance(ms(1)).await;
    }
    let snapshot = stats.snapshot();
    let retries = snapshot.retries;
    eprintln!("budget: {retries} retries for 10000 failing requests: {snapshot:?}");
    assert_eq!(seen.lock().unwrap().len() as u64, 10_000 + retries);
    // At most 20% of the requests plus the floor of 10/s over 10 s.
    assert!(retries <= 2_000 + 100, "{retries} retries");
    // And the budget is not needlessly tight either.
    assert!(retries >= 1_900, "{retries} retries");
    assert!(
        snapshot.not_retried(NotRetriedReason::BudgetExhausted) > 7_000,
        "{snapshot:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_spent_budget_is_reported_as_such() {
    let (svc, seen) = upstream(vec![Answer::Reset]);
    let layer = RetryLayer::new(exact_policy().budget(Budget::ratio(0.0, 0, ms(1000))));
    let stats = layer.stats().clone();
    let err = failure(layer.layer(svc).oneshot(request("GET")).await);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(
        err.find::<NotRetried>().map(NotRetried::reason),
        Some(NotRetriedReason::BudgetExhausted)
    );
    assert_eq!(
        err.class(),
        Class::Transport(tower_error_class::Transport::Reset)
    );
    assert_eq!(
        stats
            .snapshot()
            .not_retried(NotRetriedReason::BudgetExhausted),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn one_attempt_disables_retries() {
    let (svc, seen) = upstream(vec![Answer::Refused]);
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let policy = exact_policy().max_attempts(1).on_retry(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let _ = RetryLayer::new(policy)
        .layer(svc)
        .oneshot(request("GET"))
        .await;
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn the_listener_hears_each_retry() {
    let (svc, _) = upstream(vec![Answer::Status(502)]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = events.clone();
    let policy = exact_policy().on_retry(move |event| log.lock().unwrap().push(*event));
    RetryLayer::new(policy)
        .layer(svc)
        .oneshot(request("GET"))
        .await
        .unwrap();
    let events = events.lock().unwrap();
    let delays: Vec<_> = events.iter().map(|e| (e.attempt, e.delay)).collect();
    assert_eq!(delays, [(1, ms(100)), (2, ms(200))]);
    assert!(events.iter().all(|e| e.class.as_str() == "server_error"));
}
