//! The gateway's configuration: `gateway.toml`, validated at start.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tower_breaker::{BreakerConfig, Window};
use tower_retry_backoff::Jitter;
use tower_timeout_tiered::{TieredTimeouts, Timeouts};

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where the proxy listens (default 127.0.0.1:8080).
    pub listen: Option<String>,
    /// Where the admin listener listens (default 127.0.0.1:9901).
    pub admin_listen: Option<String>,
    /// Where to POST a JSON alert when a breaker opens.
    pub alert_webhook: Option<String>,
    /// The largest request body proxied, in bytes (default 1 MiB).
    pub max_body_bytes: Option<usize>,
    /// The upstream services.
    #[serde(rename = "service", default)]
    pub services: Vec<ServiceConfig>,
}

/// One upstream service.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The first path segment that routes to it.
    pub name: String,
    /// Its base URL (`http://host:port`, optionally with a path prefix).
    pub url: String,
    /// The path its health check requests (default `/health`).
    pub health_path: Option<String>,
    /// Its timeouts.
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
    /// Its retries.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Its breaker.
    #[serde(default)]
    pub breaker: BreakerSection,
}

/// Timeouts, as duration strings ("250ms", "5s").
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsConfig {
    /// TCP connect.
    #[serde(default = "d_connect")]
    pub connect: String,
    /// Time to the response head.
    #[serde(default = "d_headers")]
    pub response_headers: String,
    /// One attempt.
    #[serde(default = "d_attempt")]
    pub attempt: String,
    /// The whole call, retries included.
    #[serde(default = "d_total")]
    pub total: String,
}

fn d_connect() -> String {
    "250ms".into()
}
fn d_headers() -> String {
    "1s".into()
}
fn d_attempt() -> String {
    "1s".into()
}
fn d_total() -> String {
    "3s".into()
}

impl Default for TimeoutsConfig {
    fn default() -> Self {
        TimeoutsConfig {
            connect: d_connect(),
            response_headers: d_headers(),
            attempt: d_attempt(),
            total: d_total(),
        }
    }
}

/// Retries.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in total (1 disables retries).
    #[serde(default = "d_attempts")]
    pub max_attempts: u32,
    /// The first backoff.
    #[serde(default = "d_base")]
    pub base_delay: String,
    /// The backoff cap.
    #[serde(default = "d_max")]
    pub max_delay: String,
    /// none, full, equal or decorrelated.
    #[serde(default = "d_jitter")]
    pub jitter: String,
    /// The retry budget as a share of requests (0.2 is 20%).
    #[serde(default = "d_budget")]
    pub budget: f64,
}

fn d_attempts() -> u32 {
    3
}
fn d_base() -> String {
    "50ms".into()
}
fn d_max() -> String {
    "1s".into()
}
fn d_jitter() -> String {
    "full".into()
}
fn d_budget() -> f64 {
    0.2
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: d_attempts(),
            base_delay: d_base(),
            max_delay: d_max(),
            jitter: d_jitter(),
            budget: d_budget(),
        }
    }
}

/// The breaker.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSection {
    /// Trip after this many failures in a row (unless `failure_rate` is set).
    #[serde(default = "d_consecutive")]
    pub consecutive_failures: u32,
    /// Trip when this share of the last `window` calls failed.
    pub failure_rate: Option<f64>,
    /// The window of `failure_rate`, in calls.
    #[serde(default = "d_window")]
    pub window: u32,
    /// Calls the window must hold before the rate applies.
    #[serde(default = "d_min_calls")]
    pub min_calls: u32,
    /// How long it stays open.
    #[serde(default = "d_open")]
    pub open_duration: String,
    /// Probes at once while half-open.
    #[serde(default = "d_one")]
    pub half_open_probes: u32,
    /// Probe successes that close it.
    #[serde(default = "d_one")]
    pub success_threshold: u32,
}

fn d_consecutive() -> u32 {
    5
}
fn d_window() -> u32 {
    20
}
fn d_min_calls() -> u32 {
    10
}
fn d_open() -> String {
    "5s".into()
}
fn d_one() -> u32 {
    1
}

impl Default for BreakerSection {
    fn default() -> Self {
        BreakerSection {
            consecutive_failures: d_consecutive(),
            failure_rate: None,
            window: d_window(),
            min_calls: d_min_calls(),
            open_duration: d_open(),
            half_open_probes: d_one(),
            success_threshold: d_one(),
        }
    }
}

/// A configuration that was refused: the file, the key and the reason.
#[derive(Debug)]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// The key, such as `service[1].timeouts.attempt`.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.key, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// A service's settings, checked and parsed.
#[derive(Clone, Debug)]
pub struct ServiceSettings {
    /// The route name.
    pub name: String,
    /// The base URL.
    pub url: http::Uri,
    /// The health-check path.
    pub health_path: String,
    /// Every timeout tier.
    pub timeouts: TieredTimeouts,
    /// The connect timeout.
    pub connect: Duration,
    /// Attempts in total.
    pub max_attempts: u32,
    /// The first backoff.
    pub base_delay: Duration,
    /// The backoff cap.
    pub max_delay: Duration,
    /// The jitter.
    pub jitter: Jitter,
    /// The retry budget's ratio.
    pub budget: f64,
    /// The breaker.
    pub breaker: BreakerConfig,
}

impl GatewayConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<(GatewayConfig, Vec<ServiceSettings>), ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
            file: file.clone(),
            key: "(file)".into(),
            reason: err.to_string(),
        })?;
        GatewayConfig::parse(&file, &text)
    }

    /// Parses and validates the text of a configuration file named `file`.
    pub fn parse(
        file: &str,
        text: &str,
    ) -> Result<(GatewayConfig, Vec<ServiceSettings>), ConfigError> {
        let config: GatewayConfig = toml::from_str(text).map_err(|err| ConfigError {
            file: file.into(),
            key: err
                .span()
                .map(|span| {
                    let line = text[..span.start].lines().count().max(1);
                    format!("line {line}")
                })
                .unwrap_or_else(|| "(document)".into()),
            reason: err.message().to_owned(),
        })?;
        let refuse = |key: String, reason: String| ConfigError {
            file: file.into(),
            key,
            reason,
        };
        if config.services.is_empty() {
            return Err(refuse(
                "service".into(),
                "no [[service]] is configured".into(),
            ));
        }
        let mut settings = Vec::new();
        for (i, service) in config.services.iter().enumerate() {
            let key = |name: &str| format!("service[{i}].{name}");
            if service.name.is_empty()
                || !service
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(refuse(
                    key("name"),
                    format!(
                        "{:?} is not a route name (letters, digits, - and _)",
                        service.name
                    ),
                ));
            }
            if config.services[..i].iter().any(|s| s.name == service.name) {
                return Err(refuse(
                    key("name"),
                    format!("{:?} is configured twice", service.name),
                ));
            }
            let url: http::Uri = service
                .url
                .parse()
                .map_err(|err| refuse(key("url"), format!("{err}")))?;
            if url.scheme_str() != Some("http") || url.authority().is_none() {
                return Err(refuse(
                    key("url"),
                    "must be an http:// URL with a host".into(),
                ));
            }
            let duration = |name: &str, value: &str| {
                humantime::parse_duration(value)
                    .map_err(|err| refuse(key(name), format!("{value:?} is not a duration: {err}")))
            };
            let t = &service.timeouts;
            let connect = duration("timeouts.connect", &t.connect)?;
            let timeouts = Timeouts::new()
                .connect(connect)
                .response_headers(duration("timeouts.response_headers", &t.response_headers)?)
                .attempt(duration("timeouts.attempt", &t.attempt)?)
                .total(duration("timeouts.total", &t.total)?)
                .build()
                .map_err(|err| refuse(key("timeouts"), err.to_string()))?;
            let r = &service.retry;
            if r.max_attempts == 0 || r.max_attempts > 10 {
                return Err(refuse(
                    key("retry.max_attempts"),
                    "must be between 1 and 10".into(),
                ));
            }
            let jitter = match r.jitter.as_str() {
                "none" => Jitter::None,
                "full" => Jitter::Full,
                "equal" => Jitter::Equal,
                "decorrelated" => Jitter::Decorrelated,
                other => {
                    return Err(refuse(
                        key("retry.jitter"),
                        format!("{other:?}: expected none, full, equal or decorrelated"),
                    ));
                }
            };
            if !(0.0..=10.0).contains(&r.budget) {
                return Err(refuse(
                    key("retry.budget"),
                    "must be a ratio between 0 and 10".into(),
                ));
            }
            let base_delay = duration("retry.base_delay", &r.base_delay)?;
            let max_delay = duration("retry.max_delay", &r.max_delay)?;
            if max_delay < base_delay {
                return Err(refuse(
                    key("retry.max_delay"),
                    "is shorter than retry.base_delay".into(),
                ));
            }
            let b = &service.breaker;
            let mut breaker = BreakerConfig::new()
                .open_for(duration("breaker.open_duration", &b.open_duration)?)
                .half_open_probes(b.half_open_probes)
                .successes_to_close(b.success_threshold);
            breaker = match b.failure_rate {
                Some(rate) => breaker.failure_rate(rate, Window::Count(b.window), b.min_calls),
                None => breaker.consecutive_failures(b.consecutive_failures),
            };
            let breaker = breaker
                .build()
                .map_err(|err| refuse(key("breaker"), err.to_string()))?;
            settings.push(ServiceSettings {
                name: service.name.clone(),
                url,
                health_path: service
                    .health_path
                    .clone()
                    .unwrap_or_else(|| "/health".into()),
                timeouts,
                connect,
                max_attempts: r.max_attempts,
                base_delay,
                max_delay,
                jitter,
                budget: r.budget,
                breaker,
            });
        }
        Ok((config, settings))
    }
}
