//! A reproduction of the contention simulation of Marc Brooker's "Exponential
//! Backoff and Jitter" (AWS Architecture Blog, 2015), under paused time: N clients
//! race to write one row with optimistic concurrency; a write that overlaps
//! another's is refused with 409 and retried through `RetryLayer` (base 5 ms, cap
//! 2 s). Jitter should cut the total number of calls.
//!
//! `cargo test -p tower-retry-backoff --test contention -- --nocapture` prints the
//! table quoted in BENCHMARKS.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use tokio::time::Instant;
use tower::{Layer, ServiceExt, service_fn};
use tower_error_class::{Class, Code, HttpClassifier};
use tower_retry_backoff::{Budget, Exponential, Jitter, ReplayBody, RetryLayer, RetryPolicy};

/// How long one write takes: it reads the row's version when it starts and commits
/// only if nobody committed in between.
const WRITE: Duration = Duration::from_millis(1);

struct Outcome {
    calls: u64,
    finished: Duration,
}

async fn simulate(clients: usize, jitter: Jitter) -> Outcome {
    let version = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let row = {
        let version = version.clone();
        let calls = calls.clone();
        service_fn(move |_req: Request<ReplayBody<Empty<Bytes>>>| {
            let version = version.clone();
            calls.fetch_add(1, Ordering::Relaxed);
            async move {
                let seen = version.load(Ordering::SeqCst);
                tokio::time::sleep(WRITE).await;
                let status = match version.compare_exchange(
                    seen,
                    seen + 1,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                ) {
                    Ok(_) => StatusCode::OK,
                    Err(_) => StatusCode::CONFLICT,
                };
                Ok::<_, std::io::Error>(Response::builder().status(status).body(()).unwrap())
            }
        })
    };
    // A conflict is worth retrying here: the write did not happen.
    let classifier = HttpClassifier::new().with_status(
        StatusCode::CONFLICT,
        Class::ServerError(Code::Http(StatusCode::CONFLICT)),
    );
    let policy = RetryPolicy::new()
        .classifier(classifier)
        .max_attempts(100_000)
        .budget(Budget::unlimited())
        .backoff(
            Exponential::new(Duration::from_millis(5))
                .cap(Duration::from_secs(2))
                .jitter(jitter),
        )
        .seed(2015);
    let svc = RetryLayer::new(policy).layer(row);
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let svc = svc.clone();
            tokio::spawn(async move {
                let request = Request::put("http://db/row").body(Empty::new()).unwrap();
                let response = svc.oneshot(request).await.unwrap();
                assert_eq!(response.status(), 200);
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    Outcome {
        calls: calls.load(Ordering::Relaxed),
        finished: start.elapsed(),
    }
}

#[tokio::test(start_paused = true)]
async fn full_jitter_makes_fewer_calls_than_plain_exponential() {
    let jitters = [
        ("none", Jitter::None),
        ("full", Jitter::Full),
        ("equal", Jitter::Equal),
        ("decorrelated", Jitter::Decorrelated),
    ];
    println!("| clients | jitter | total calls | time until all wrote |");
    println!("|---|---|---|---|");
    for clients in [50, 100] {
        let mut calls = Vec::new();
        for (name, jitter) in jitters {
            let outcome = simulate(clients, jitter).await;
            println!(
                "| {clients} | {name} | {} | {:?} |",
                outcome.calls, outcome.finished
            );
            calls.push(outcome.calls);
        }
        assert!(
            calls[1] < calls[0],
            "{clients} clients: full jitter made {} calls, no jitter {}",
            calls[1],
            calls[0]
        );
    }
}
