//! The resilient API gateway: a reverse proxy that puts each upstream service
//! behind its own stack of this workspace's layers, with an admin listener for
//! health, metrics, a live dashboard and breaker control.
//!
//! `cargo run --example gateway` starts it with embedded demo upstreams; see
//! [`start`] to run it from code (the tests do).

mod admin;
mod alert;
pub mod config;
pub mod demo;
pub mod proxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{ConfigError, GatewayConfig};
pub use proxy::Gateway;

/// How to start the gateway.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// A configuration file; without one, the embedded demo upstreams are started.
    pub config: Option<PathBuf>,
    /// The proxy's address (default: the file's `listen`, else 127.0.0.1:8080).
    pub listen: Option<SocketAddr>,
    /// The admin address (default: the file's `admin_listen`, else 127.0.0.1:9901).
    pub admin_listen: Option<SocketAddr>,
    /// Whether to drive demo traffic through the gateway (demo mode only).
    pub traffic: bool,
}

/// A running gateway.
pub struct Running {
    /// Where the proxy listens.
    pub proxy: SocketAddr,
    /// Where the admin listener listens.
    pub admin: SocketAddr,
    /// The gateway's shared state.
    pub gateway: Arc<Gateway>,
    shutdown: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish within `grace`, then stops.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.shutdown.send(true);
        for task in self.background {
            task.abort();
        }
        let servers = async {
            for server in self.servers {
                let _ = server.await;
            }
        };
        if tokio::time::timeout(grace, servers).await.is_err() {
            tracing::warn!(?grace, "in-flight requests did not finish in time");
        }
    }
}

/// The process's metrics recorder (installed once; every gateway shares it).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed already (in tests): ours then
            // renders an empty page, which is still a valid exposition.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Starts the gateway.
pub async fn start(options: Options) -> Result<Running, Box<dyn std::error::Error + Send + Sync>> {
    let mut background = Vec::new();
    let (config, settings) = match &options.config {
        Some(path) => GatewayConfig::load(path)?,
        None => {
            let steady = demo::upstream(demo::Behaviour::Steady).await?;
            let flaky = demo::upstream(demo::Behaviour::Flaky).await?;
            let slow = demo::upstream(demo::Behaviour::Slow).await?;
            let down = demo::down().await?;
            GatewayConfig::parse("(embedded demo)", &demo::config(steady, flaky, slow, down))?
        }
    };
    let parse_addr = |text: &Option<String>, default: &str| -> Result<SocketAddr, String> {
        text.as_deref()
            .unwrap_or(default)
            .parse()
            .map_err(|err| format!("bad listen address: {err}"))
    };
    let listen = match options.listen {
        Some(addr) => addr,
        None => parse_addr(&config.listen, "127.0.0.1:8080")?,
    };
    let admin_listen = match options.admin_listen {
        Some(addr) => addr,
        None => parse_addr(&config.admin_listen, "127.0.0.1:9901")?,
    };
    let webhook = match &config.alert_webhook {
        Some(url) => Some(url.parse().map_err(|err| {
            ConfigError {
                file: options
                    .config
                    .as_ref()
                    .map_or("(embedded demo)".into(), |p| p.display().to_string()),
                key: "alert_webhook".into(),
                reason: format!("{err}"),
            }
        })?),
        None => None,
    };
    let names: Vec<String> = settings.iter().map(|s| s.name.clone()).collect();
    let gateway = Gateway::new(
        settings,
        config.max_body_bytes.unwrap_or(1 << 20),
        webhook,
        metrics_handle(),
    );

    let proxy_listener = TcpListener::bind(listen).await?;
    let admin_listener = TcpListener::bind(admin_listen).await?;
    let proxy_addr = proxy_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    let (shutdown, signal) = watch::channel(false);

    let proxy_app = Router::new()
        .fallback(proxy::proxy)
        .with_state(gateway.clone())
        .into_make_service_with_connect_info::<SocketAddr>();
    let admin_app = admin::router(gateway.clone());
    let stopped = |mut signal: watch::Receiver<bool>| async move {
        let _ = signal.wait_for(|stop| *stop).await;
    };
    let servers = vec![
        tokio::spawn({
            let signal = signal.clone();
            async move {
                let _ = axum::serve(proxy_listener, proxy_app)
                    .with_graceful_shutdown(stopped(signal))
                    .await;
            }
        }),
        tokio::spawn({
            let signal = signal.clone();
            async move {
                let _ = axum::serve(admin_listener, admin_app)
                    .with_graceful_shutdown(stopped(signal))
                    .await;
            }
        }),
    ];
    if options.config.is_none() && options.traffic {
        background.push(tokio::spawn(demo::traffic(proxy_addr, names)));
    }
    Ok(Running {
        proxy: proxy_addr,
        admin: admin_addr,
        gateway,
        shutdown,
        servers,
        background,
    })
}
