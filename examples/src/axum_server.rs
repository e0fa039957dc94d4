//! An axum service with a server-side deadline, read from the caller's
//! `x-request-timeout-ms` header (or `grpc-timeout`, with
//! `ServerDeadlineLayer::grpc()`), and our errors turned into responses by
//! `ErrorResponseLayer`: no hand-written `HandleErrorLayer` closure.
//!
//! `cargo run --example axum_server` runs [`demo`] and prints what happens.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Extension;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::ServiceBuilder;
use tower_error_class::ErrorResponseLayer;
use tower_timeout_tiered::{Deadline, Propagation, ServerDeadlineLayer, TimeoutBody};

/// The app: `/fast` answers at once with the time its caller left it; `/slow`
/// works for 5 s, more than any caller here allows.
pub fn app() -> Router {
    Router::new()
        .route(
            "/fast",
            get(|deadline: Option<Extension<Deadline>>| async move {
                match deadline {
                    Some(Extension(deadline)) => {
                        format!("{} ms left", deadline.remaining().as_millis())
                    }
                    None => "no deadline".to_owned(),
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "finally"
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(ErrorResponseLayer::new())
                .map_response(|res: http::Response<TimeoutBody<Body>>| res.map(Body::new))
                .layer(
                    ServerDeadlineLayer::new(Propagation::millis("x-request-timeout-ms"))
                        .limit(Duration::from_secs(1)),
                ),
        )
}

/// What the demo saw.
#[derive(Debug)]
pub struct Report {
    /// `/fast` with a 1 500 ms deadline: status and body.
    pub fast: (u16, String),
    /// `/slow` with a 200 ms deadline: status, body, and how long it took.
    pub slow: (u16, String, Duration),
    /// `/slow` with no deadline of its caller: the server's own 1 s limit.
    pub slow_unbounded: (u16, Duration),
}

/// Serves [`app`] on 127.0.0.1 and calls it.
pub async fn demo() -> Report {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app()).await.unwrap() });
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let call = |path: &str, timeout: Option<&str>| {
        let mut request = http::Request::get(format!("http://{addr}{path}"));
        if let Some(timeout) = timeout {
            request = request.header("x-request-timeout-ms", timeout);
        }
        let request = request.body(Full::new(Bytes::new())).unwrap();
        let client = client.clone();
        async move {
            let start = Instant::now();
            let response = client.request(request).await.unwrap();
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                String::from_utf8_lossy(&body).into_owned(),
                start.elapsed(),
            )
        }
    };
    let (status, body, _) = call("/fast", Some("1500")).await;
    let fast = (status, body);
    let slow = call("/slow", Some("200")).await;
    let (status, _, took) = call("/slow", None).await;
    Report {
        fast,
        slow,
        slow_unbounded: (status, took),
    }
}
