//! The embedded demo: upstreams that behave like real ones, on 127.0.0.1
//! ephemeral ports, and light traffic through the gateway.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// How a demo upstream behaves.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Fast 200s.
    Steady,
    /// A share of 500 and 503, some 429 with `Retry-After`, some connection resets.
    Flaky,
    /// Now and then slower than the attempt timeout.
    Slow,
}

/// Starts an upstream; returns its address.
pub async fn upstream(behaviour: Behaviour) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    answer(behaviour, req)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

async fn answer(
    behaviour: Behaviour,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let path = req.uri().path().to_owned();
    if path == "/health" {
        return Ok(reply(StatusCode::OK, r#"{"status":"ok"}"#.into()));
    }
    let roll = fastrand::u32(0..100);
    let ok = || Ok(reply(StatusCode::OK, format!(r#"{{"path":"{path}"}}"#)));
    match behaviour {
        Behaviour::Steady => ok(),
        Behaviour::Flaky => match roll {
            0..=14 => Ok(reply(StatusCode::INTERNAL_SERVER_ERROR, "{}".into())),
            15..=24 => Ok(reply(StatusCode::SERVICE_UNAVAILABLE, "{}".into())),
            25..=29 => {
                let mut res = reply(StatusCode::TOO_MANY_REQUESTS, "{}".into());
                res.headers_mut()
                    .insert("retry-after", http::HeaderValue::from_static("1"));
                Ok(res)
            }
            // A connection reset: hyper drops the connection when the service fails.
            30..=34 => Err(std::io::Error::other("reset")),
            _ => ok(),
        },
        Behaviour::Slow => {
            if roll < 25 {
                tokio::time::sleep(Duration::from_millis(1500)).await;
            } else {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            ok()
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on.
pub async fn down() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    listener.local_addr()
}

/// The configuration of the demo services.
pub fn config(steady: SocketAddr, flaky: SocketAddr, slow: SocketAddr, down: SocketAddr) -> String {
    format!(
        r#"
[[service]]
name = "steady"
url = "http://{steady}"

[[service]]
name = "flaky"
url = "http://{flaky}"
retry = {{ max_attempts = 3, base_delay = "20ms", max_delay = "200ms", jitter = "full", budget = 0.2 }}
breaker = {{ failure_rate = 0.6, window = 20, min_calls = 10, open_duration = "3s" }}

[[service]]
name = "slow"
url = "http://{slow}"
timeouts = {{ connect = "250ms", response_headers = "500ms", attempt = "500ms", total = "1500ms" }}

[[service]]
name = "down"
url = "http://{down}"
breaker = {{ consecutive_failures = 3, open_duration = "5s" }}
"#
    )
}

/// Sends light traffic to every demo service through the gateway, forever.
pub async fn traffic(gateway: SocketAddr, services: Vec<String>) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut n = 0u64;
    loop {
        for service in &services {
            n += 1;
            let request = Request::get(format!("http://{gateway}/{service}/items/{n}"))
                .body(Full::new(Bytes::new()))
                .expect("a valid request");
            let client = client.clone();
            tokio::spawn(async move {
                let _ = client.request(request).await;
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
