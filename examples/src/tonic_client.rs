//! A tonic client with deadline propagation, retry on `UNAVAILABLE` and a breaker,
//! against a tonic server in the same process (gRPC's health service, which needs
//! no `protoc`).
//!
//! `cargo run --example tonic_client` runs [`demo`] and prints what happens.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::HeaderName;
use tonic::body::Body;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use tower::{Service, ServiceBuilder};
use tower_breaker::{BreakerConfig, BreakerLayer, State};
use tower_error_class::{GrpcClassifier, Idempotent, StatusLayer};
use tower_retry_backoff::{GRPC_PREVIOUS_RPC_ATTEMPTS, ReplayBody, RetryLayer, RetryPolicy};
use tower_timeout_tiered::{DeadlineLayer, Propagation, TimeoutLayer};

/// What one call looked like on the server: its `grpc-timeout` and
/// `grpc-previous-rpc-attempts` headers.
pub type Seen = (Option<String>, Option<String>);

/// A server-side layer that answers the first `failures` calls `UNAVAILABLE` and
/// records each call's headers.
#[derive(Clone)]
struct Flaky<S> {
    inner: S,
    failures: Arc<Mutex<u32>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl<S> Service<http::Request<Body>> for Flaky<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        self.seen
            .lock()
            .unwrap()
            .push((header("grpc-timeout"), header(GRPC_PREVIOUS_RPC_ATTEMPTS)));
        let mut failures = self.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            let response = http::Response::builder()
                .header("content-type", "application/grpc")
                .header("grpc-status", "14")
                .header("grpc-message", "warming up")
                .body(Body::default())
                .unwrap();
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(req))
    }
}

/// What the demo saw.
#[derive(Debug)]
pub struct Report {
    /// The health status the client got.
    pub status: Option<ServingStatus>,
    /// Each attempt as the server saw it.
    pub attempts: Vec<Seen>,
    /// The client's breaker after the call.
    pub breaker: State,
}

/// Serves the health service on 127.0.0.1 (failing its first two calls) and
/// calls it through the client stack.
pub async fn demo() -> Report {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let failures = Arc::new(Mutex::new(2));
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let incoming = tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
        .expect("a loopback port");
    let addr = incoming.local_addr().unwrap();
    {
        let seen = seen.clone();
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .layer(tower::layer::layer_fn(move |inner| Flaky {
                    inner,
                    failures: failures.clone(),
                    seen: seen.clone(),
                }))
                .add_service(health)
                .serve_with_incoming(incoming)
                .await
                .unwrap();
        });
    }

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("the server is up");
    let breaker = BreakerLayer::new(
        BreakerConfig::new()
            .consecutive_failures(5)
            .build()
            .expect("a valid breaker"),
    )
    .classifier(GrpcClassifier::new());
    let breaker_handle = breaker.handle();
    let stack = ServiceBuilder::new()
        // Errors reach the caller as tonic::Status: a timeout is DEADLINE_EXCEEDED.
        .layer(StatusLayer::new())
        .layer(DeadlineLayer::new(Duration::from_secs(2)))
        // Health checks are idempotent: gRPC calls say so per method.
        .map_request(|mut req: http::Request<Body>| {
            req.extensions_mut().insert(Idempotent(true));
            req
        })
        .layer(RetryLayer::new(
            RetryPolicy::new()
                .classifier(GrpcClassifier::new())
                .attempt_header(HeaderName::from_static(GRPC_PREVIOUS_RPC_ATTEMPTS))
                .seed(3),
        ))
        .layer(breaker)
        .layer(TimeoutLayer::attempt_only(Duration::from_secs(1)).propagate(Propagation::Grpc))
        .map_request(|req: http::Request<ReplayBody<Body>>| req.map(Body::new))
        .service(channel);
    let mut client = HealthClient::new(stack);
    let status = client
        .check(HealthCheckRequest::default())
        .await
        .ok()
        .map(|response| response.into_inner().status());
    Report {
        status,
        attempts: seen.lock().unwrap().clone(),
        breaker: breaker_handle.state(),
    }
}
