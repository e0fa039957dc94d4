//! Alerts: a JSON POST to a webhook when a breaker opens, sent through the same
//! crates (its own deadline, retry and attempt timeout), in the background, so a
//! dead webhook never blocks proxying.

use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};
use tower_error_class::Error;
use tower_retry_backoff::{Exponential, ReplayBody, RetryLayer, RetryPolicy};
use tower_timeout_tiered::{DeadlineLayer, TimeoutLayer};

use super::proxy::TimelineEntry;

type Sender = BoxCloneSyncService<http::Request<Full<Bytes>>, http::StatusCode, Error>;

/// Posts alerts to one webhook.
#[derive(Clone)]
pub struct Alerter {
    url: Uri,
    sender: Sender,
}

impl Alerter {
    /// An alerter for `url`.
    pub fn new(url: Uri) -> Alerter {
        let client = Client::builder(TokioExecutor::new()).build_http::<ReplayBody<Full<Bytes>>>();
        let stack = ServiceBuilder::new()
            .map_response(|res: http::Response<_>| res.status())
            .layer(DeadlineLayer::new(Duration::from_secs(5)))
            .layer(RetryLayer::new(
                RetryPolicy::new()
                    .max_attempts(3)
                    .backoff(Exponential::new(Duration::from_millis(200))),
            ))
            .layer(TimeoutLayer::attempt_only(Duration::from_secs(2)))
            .service(client);
        Alerter {
            url,
            sender: BoxCloneSyncService::new(stack),
        }
    }

    /// Sends `entry` in the background (if there is a runtime to send it on).
    pub fn send(&self, entry: &TimelineEntry) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let body = serde_json::json!({
            "alert": "circuit breaker opened",
            "service": entry.service,
            "from": entry.from,
            "reason": entry.reason,
            "at_ms": entry.at_ms as u64,
        });
        let request = http::Request::post(self.url.clone())
            .header("content-type", "application/json")
            // A webhook is not idempotent, but an alert delivered twice is better
            // than one lost.
            .header(
                "idempotency-key",
                format!("{}-{}", entry.service, entry.at_ms),
            )
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("a valid request");
        let sender = self.sender.clone();
        runtime.spawn(async move {
            match sender.oneshot(request).await {
                Ok(status) if status.is_success() => {}
                Ok(status) => tracing::warn!(%status, "alert webhook refused the alert"),
                Err(err) => tracing::warn!(class = err.class().as_str(), error = %err, "alert webhook failed"),
            }
        });
    }
}
