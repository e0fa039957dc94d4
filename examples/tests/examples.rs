//! The small examples' behaviours, as tests, so they cannot rot.

use std::time::Duration;

use tower_breaker::State;
use tower_error_class::{Class, Rejection};

#[tokio::test]
async fn axum_server_enforces_the_callers_deadline_and_answers_errors() {
    let report = examples::axum_server::demo().await;
    assert_eq!(report.fast.0, 200);
    assert!(report.fast.1.ends_with("ms left"), "{:?}", report.fast);
    let (status, body, took) = report.slow;
    assert_eq!(status, 504);
    assert_eq!(
        body,
        r#"{"class":"deadline_exceeded","message":"deadline exceeded"}"#
    );
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(1),
        "{took:?}"
    );
    let (status, took) = report.slow_unbounded;
    assert_eq!(status, 504);
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[tokio::test]
async fn hyper_client_replays_the_streaming_post_and_opens_the_down_hosts_breaker() {
    let report = examples::hyper_client::demo().await;
    assert_eq!(report.upload_status, 200);
    assert_eq!(report.upload_bodies.len(), 2, "a 503, then a success");
    assert_eq!(report.upload_bodies[0], report.upload_bodies[1]);
    assert_eq!(
        report.upload_bodies[0],
        "first chunk, second chunk, last chunk"
    );
    assert_eq!(report.down_breaker, State::Open);
    assert_eq!(report.upload_breaker, State::Closed);
    assert!(
        report
            .down_classes
            .iter()
            .all(|class| matches!(class, Class::Rejected(Rejection::BreakerOpen { .. }))),
        "{:?}",
        report.down_classes
    );
}

#[tokio::test]
async fn tonic_client_propagates_its_deadline_and_retries_unavailable() {
    let report = examples::tonic_client::demo().await;
    assert_eq!(
        report.status,
        Some(tonic_health::pb::health_check_response::ServingStatus::Serving)
    );
    assert_eq!(report.attempts.len(), 3, "two UNAVAILABLE, then served");
    let previous: Vec<_> = report.attempts.iter().map(|a| a.1.as_deref()).collect();
    assert_eq!(previous, [None, Some("1"), Some("2")]);
    for (timeout, _) in &report.attempts {
        let timeout = timeout.as_deref().expect("grpc-timeout on every attempt");
        let parsed = tower_error_class::grpc::parse_grpc_timeout(timeout.as_bytes()).unwrap();
        assert!(parsed <= Duration::from_secs(1) && parsed > Duration::from_millis(500));
    }
    assert_eq!(report.breaker, State::Closed);
}
