//! The admin listener: `/health`, `/metrics`, `/dashboard`, `/api/state` and
//! `POST /breakers/{service}`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tower_error_class::{Classifier, HttpClassifier};

use super::proxy::{Gateway, Service};

/// The admin routes.
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/dashboard", get(dashboard))
        .route("/api/state", get(state))
        .route("/breakers/{service}", post(force))
        .with_state(gateway)
}

/// Each service's health check, run concurrently, each under its own timeout.
async fn health(State(gateway): State<Arc<Gateway>>) -> Json<Value> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    let checks = gateway.services.iter().map(|service| {
        let client = client.clone();
        let service = service.clone();
        async move {
            (
                service.settings.name.clone(),
                check(&client, &service).await,
            )
        }
    });
    let results = futures_join_all(checks).await;
    let mut report = serde_json::Map::new();
    for (name, result) in results {
        report.insert(name, result);
    }
    Json(Value::Object(report))
}

async fn check(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<bytes::Bytes>>,
    service: &Service,
) -> Value {
    let base = &service.settings.url;
    let url = format!(
        "{}://{}{}{}",
        base.scheme_str().unwrap_or("http"),
        base.authority().map(|a| a.as_str()).unwrap_or_default(),
        base.path().trim_end_matches('/'),
        service.settings.health_path
    );
    let request = match http::Request::get(url).body(Empty::new()) {
        Ok(request) => request,
        Err(err) => return json!({ "healthy": false, "check": format!("bad health URL: {err}") }),
    };
    let start = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(2), client.request(request)).await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let (healthy, detail) = match outcome {
        Ok(Ok(response)) => {
            let class = HttpClassifier::new().classify(Ok(&response));
            (class.is_success(), class.as_str().to_owned())
        }
        Ok(Err(err)) => (
            false,
            tower_error_class::classify_error(&err).as_str().to_owned(),
        ),
        Err(_) => (false, "timeout".to_owned()),
    };
    json!({
        "healthy": healthy,
        "check": detail,
        "breaker": service.breaker.state().as_str(),
        "latency_ms": latency_ms,
        "last_error_class": service.stats.last_error(),
    })
}

/// Runs the futures concurrently, each on its own task, and collects their
/// outputs.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        if let Ok(result) = handle.await {
            results.push(result);
        }
    }
    results
}

async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    // Breaker states as gauges, fresh at every scrape.
    for service in &gateway.services {
        metrics::gauge!("gateway_breaker_state", "service" => service.settings.name.clone())
            .set(service.breaker.state().as_gauge());
    }
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        gateway.metrics.render(),
    )
        .into_response()
}

async fn dashboard() -> Html<&'static str> {
    Html(include_str!("dashboard.html"))
}

/// Everything the dashboard draws.
async fn state(State(gateway): State<Arc<Gateway>>) -> Json<Value> {
    let services: Vec<Value> = gateway
        .services
        .iter()
        .map(|service| {
            let stats = &service.stats;
            let counts = service.breaker.counts();
            json!({
                "name": service.settings.name,
                "url": service.settings.url.to_string(),
                "breaker": service.breaker.state().as_str(),
                "open_remaining_ms": service.breaker.open_remaining().map(|d| d.as_millis() as u64),
                "window": { "calls": counts.calls, "failures": counts.failures },
                "requests": stats.requests.load(Ordering::Relaxed),
                "retries": stats.retries.load(Ordering::Relaxed),
                "by_class": stats.by_class(),
                "p50_ms": stats.quantile(0.5),
                "p99_ms": stats.quantile(0.99),
                "last_error_class": stats.last_error(),
            })
        })
        .collect();
    let timeline: Vec<_> = gateway.timeline.lock().unwrap().iter().cloned().collect();
    Json(json!({
        "uptime_ms": gateway.started.elapsed().as_millis() as u64,
        "services": services,
        "timeline": timeline,
    }))
}

/// `POST /breakers/{service}` with `open`, `close` or `auto`.
async fn force(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    body: String,
) -> Response {
    let Some(service) = gateway.service(&name) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such service" })),
        )
            .into_response();
    };
    let command = body.trim().trim_matches('"').to_ascii_lowercase();
    match command.as_str() {
        "open" => service.breaker.force_open(),
        "close" => service.breaker.force_closed(),
        "auto" => service.breaker.auto(),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "expected open, close or auto" })),
            )
                .into_response();
        }
    }
    Json(json!({ "service": name, "breaker": service.breaker.state().as_str() })).into_response()
}
