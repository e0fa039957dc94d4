//! The proxy: one stack per service, in the order of the workspace's design
//! (total deadline, retry with budget, breaker, per-attempt timeout, a hyper-util
//! client with a connect timeout), and the handler that routes to it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceBuilder, ServiceExt};
use tower_breaker::{BreakerHandle, BreakerLayer, State as BreakerState, StateChange};
use tower_error_class::{Class, Classifier, Error, HttpClassifier};
use tower_retry_backoff::{Budget, Exponential, ReplayBody, RetryLayer, RetryPolicy};
use tower_timeout_tiered::{ConnectTimeoutLayer, Deadline, DeadlineLayer, Propagation};

use super::config::ServiceSettings;

/// A service's whole stack, type-erased.
pub type Stack = BoxCloneSyncService<http::Request<Body>, Response, Error>;

/// The class names, in a fixed order, so per-class counters are arrays.
pub const CLASSES: [&str; 11] = [
    "success",
    "not_sent",
    "transport",
    "timeout",
    "deadline_exceeded",
    "cancelled",
    "throttled",
    "server_error",
    "not_implemented",
    "client_error",
    "rejected",
];

fn class_index(class: Class) -> usize {
    CLASSES
        .iter()
        .position(|name| *name == class.as_str())
        .unwrap_or(0)
}

const LATENCIES: usize = 512;

/// What the dashboard shows of one service. Recorded lock-free: the proxy path
/// must not serialise on a dashboard.
#[derive(Debug)]
pub struct ServiceStats {
    /// Requests proxied.
    pub requests: AtomicU64,
    /// Retries made.
    pub retries: AtomicU64,
    by_class: [AtomicU64; CLASSES.len()],
    /// The latest latencies in microseconds, a ring.
    latencies: [AtomicU64; LATENCIES],
    /// The class of the last failure, as an index into [`CLASSES`] plus one.
    last_error: AtomicU64,
    /// Counters and a histogram in the metrics registry, made once.
    counters: [metrics::Counter; CLASSES.len()],
    histogram: metrics::Histogram,
}

impl ServiceStats {
    fn new(service: &str) -> ServiceStats {
        ServiceStats {
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            by_class: Default::default(),
            latencies: std::array::from_fn(|_| AtomicU64::new(u64::MAX)),
            last_error: AtomicU64::new(0),
            counters: CLASSES.map(|class| {
                metrics::counter!(
                    "gateway_requests_total",
                    "service" => service.to_owned(),
                    "class" => class
                )
            }),
            histogram: metrics::histogram!(
                "gateway_request_duration_seconds",
                "service" => service.to_owned()
            ),
        }
    }

    fn record(&self, class: Class, latency: Duration) {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let index = class_index(class);
        self.by_class[index].fetch_add(1, Ordering::Relaxed);
        self.counters[index].increment(1);
        self.histogram.record(latency.as_secs_f64());
        self.latencies[(n % LATENCIES as u64) as usize]
            .store(latency.as_micros() as u64, Ordering::Relaxed);
        if !class.is_success() {
            self.last_error.store(index as u64 + 1, Ordering::Relaxed);
        }
    }

    /// Requests by class, for the classes seen.
    pub fn by_class(&self) -> BTreeMap<&'static str, u64> {
        CLASSES
            .iter()
            .zip(&self.by_class)
            .map(|(name, n)| (*name, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The class of the last failure.
    pub fn last_error(&self) -> Option<&'static str> {
        match self.last_error.load(Ordering::Relaxed) {
            0 => None,
            i => CLASSES.get(i as usize - 1).copied(),
        }
    }

    /// The `q` quantile of the latest latencies, in milliseconds.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let mut sorted: Vec<u64> = self
            .latencies
            .iter()
            .map(|l| l.load(Ordering::Relaxed))
            .filter(|l| *l != u64::MAX)
            .collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_unstable();
        let index = ((sorted.len() - 1) as f64 * q).round() as usize;
        Some(sorted[index] as f64 / 1000.0)
    }
}

/// One proxied service.
pub struct Service {
    /// Its settings.
    pub settings: ServiceSettings,
    /// Its stack.
    pub stack: Stack,
    /// Its breaker.
    pub breaker: BreakerHandle,
    /// What it did.
    pub stats: Arc<ServiceStats>,
}

/// A breaker state change, for the dashboard's timeline.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TimelineEntry {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u128,
    /// The service.
    pub service: String,
    /// The state before.
    pub from: &'static str,
    /// The state after.
    pub to: &'static str,
    /// Why.
    pub reason: String,
}

/// Everything the gateway shares between requests.
pub struct Gateway {
    /// The services by route name, in configuration order.
    pub services: Vec<Arc<Service>>,
    by_name: HashMap<String, Arc<Service>>,
    /// The largest body proxied.
    pub max_body_bytes: usize,
    /// The latest breaker state changes.
    pub timeline: Arc<Mutex<VecDeque<TimelineEntry>>>,
    /// The metrics exporter.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// When the gateway started.
    pub started: Instant,
}

impl Gateway {
    /// Builds every service's stack.
    pub fn new(
        settings: Vec<ServiceSettings>,
        max_body_bytes: usize,
        alert_webhook: Option<Uri>,
        metrics: metrics_exporter_prometheus::PrometheusHandle,
    ) -> Arc<Gateway> {
        let timeline = Arc::new(Mutex::new(VecDeque::new()));
        let alerts = alert_webhook.map(super::alert::Alerter::new);
        let services: Vec<Arc<Service>> = settings
            .into_iter()
            .map(|settings| Arc::new(build(settings, timeline.clone(), alerts.clone())))
            .collect();
        let by_name = services
            .iter()
            .map(|service| (service.settings.name.clone(), service.clone()))
            .collect();
        Arc::new(Gateway {
            services,
            by_name,
            max_body_bytes,
            timeline,
            metrics,
            started: Instant::now(),
        })
    }

    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&Arc<Service>> {
        self.by_name.get(name)
    }
}

fn build(
    settings: ServiceSettings,
    timeline: Arc<Mutex<VecDeque<TimelineEntry>>>,
    alerts: Option<super::alert::Alerter>,
) -> Service {
    let name = settings.name.clone();
    let stats = Arc::new(ServiceStats::new(&name));
    let on_change = {
        let name = name.clone();
        move |change: &StateChange| {
            let entry = TimelineEntry {
                at_ms: SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis(),
                service: name.clone(),
                from: change.from.as_str(),
                to: change.to.as_str(),
                reason: format!("{:?}", change.reason),
            };
            let mut timeline = timeline.lock().unwrap();
            if timeline.len() == 100 {
                timeline.pop_front();
            }
            timeline.push_back(entry.clone());
            drop(timeline);
            if change.to == BreakerState::Open {
                tracing::warn!(service = %name, reason = ?change.reason, "breaker opened");
                if let Some(alerts) = &alerts {
                    alerts.send(&entry);
                }
            }
        }
    };
    let breaker = BreakerLayer::new(settings.breaker)
        .named(&name)
        .on_state_change(on_change);
    let handle = breaker.handle();
    let retries = {
        let stats = stats.clone();
        let name = name.clone();
        move |event: &tower_retry_backoff::RetryEvent| {
            stats.retries.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(
                "gateway_retries_total",
                "service" => name.clone(),
                "class" => event.class.as_str()
            )
            .increment(1);
        }
    };
    let policy = RetryPolicy::new()
        .max_attempts(settings.max_attempts)
        .backoff(
            Exponential::new(settings.base_delay)
                .cap(settings.max_delay)
                .jitter(settings.jitter),
        )
        .budget(Budget::ratio(settings.budget, 10, Duration::from_secs(10)))
        .on_retry(retries);

    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let connector = ConnectTimeoutLayer::new(settings.connect).layer(connector);
    let client = Client::builder(TokioExecutor::new()).build::<_, ReplayBody<Body>>(connector);

    let stack = ServiceBuilder::new()
        .map_response(|res: http::Response<_>| res.map(Body::new))
        // The configuration always has a total (it defaults to 3 s).
        .layer(
            settings
                .timeouts
                .deadline_layer()
                .unwrap_or_else(|| DeadlineLayer::new(Duration::from_secs(3))),
        )
        .layer(RetryLayer::new(policy))
        .layer(breaker)
        .layer(settings.timeouts.attempt_layer(Propagation::None))
        .service(client);
    Service {
        settings,
        stack: BoxCloneSyncService::new(stack),
        breaker: handle,
        stats,
    }
}

/// Headers that belong to one connection, not to the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

/// The JSON error of the gateway itself (unknown service, body too large).
fn refuse(status: StatusCode, service: &str, class: &str, message: &str) -> Response {
    let body = serde_json::json!({ "service": service, "class": class, "message": message });
    (status, axum::Json(body)).into_response()
}

/// The response for a failure of the stack: the error class's status and
/// `Retry-After`, and a JSON body naming the service and the class.
pub fn error_response(service: &str, err: &Error) -> Response {
    let parts = err.to_response_parts();
    let mut body = serde_json::json!({
        "service": service,
        "class": err.class().as_str(),
        "message": err.to_string(),
    });
    if let Some(secs) = err.http_retry_after() {
        body["retry_after_secs"] = secs.into();
    }
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// `ANY /{service}/{path}`: proxies to the service.
pub async fn proxy(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let path = request.uri().path().to_owned();
    let rest = path.trim_start_matches('/');
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(service) = gateway.service(name).cloned() else {
        return refuse(
            StatusCode::NOT_FOUND,
            name,
            "unknown_service",
            "no such service",
        );
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > gateway.max_body_bytes) {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            name,
            "body_too_large",
            "request body exceeds the gateway's limit",
        );
    }
    let (mut parts, body) = request.into_parts();
    let base = &service.settings.url;
    let prefix = base.path().trim_end_matches('/');
    let mut target = format!(
        "{}://{}{}/{}",
        base.scheme_str().unwrap_or("http"),
        base.authority().map(|a| a.as_str()).unwrap_or_default(),
        prefix,
        tail
    );
    if let Some(query) = parts.uri.query() {
        target.push('?');
        target.push_str(query);
    }
    parts.uri = match target.parse() {
        Ok(uri) => uri,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                name,
                "bad_request",
                "malformed path",
            );
        }
    };
    strip_hop_by_hop(&mut parts.headers);
    let ip = client.ip().to_string();
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(earlier) => format!("{earlier}, {ip}"),
        None => ip.clone(),
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
        parts.headers.insert("x-forwarded-for", value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("for=\"{ip}\";proto=http")) {
        parts.headers.append(header::FORWARDED, value);
    }
    // An incoming deadline (gRPC's, or ours in milliseconds) shrinks the total.
    let mut request = http::Request::from_parts(parts, body);
    for propagation in [
        Propagation::Grpc,
        Propagation::millis("x-request-timeout-ms"),
    ] {
        if let Ok(Some(budget)) = propagation.read(request.headers()) {
            Deadline::after(budget).set_on(&mut request);
        }
    }
    let (parts, body) = request.into_parts();
    let body = Body::new(http_body_util::Limited::new(body, gateway.max_body_bytes));
    let request = http::Request::from_parts(parts, body);
    let start = Instant::now();
    let outcome = service.stack.clone().oneshot(request).await;
    let latency = start.elapsed();
    let class = match &outcome {
        Ok(response) => HttpClassifier::new().classify(Ok(response)),
        Err(err) => err.class(),
    };
    service.stats.record(class, latency);
    match outcome {
        Ok(mut response) => {
            strip_hop_by_hop(response.headers_mut());
            response
        }
        // A streamed body that outgrew the limit on the way is the caller's
        // fault, not the upstream's.
        Err(err) if err.find::<http_body_util::LengthLimitError>().is_some() => refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            name,
            "body_too_large",
            "request body exceeds the gateway's limit",
        ),
        Err(err) => error_response(name, &err),
    }
}
