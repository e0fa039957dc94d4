//! The gateway started in-process on ephemeral ports, with a configuration that
//! points at test upstreams on 127.0.0.1.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use examples::gateway::{GatewayConfig, Options, Running, start};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;

/// What an upstream saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path_and_query: String,
    headers: HashMap<String, String>,
    body: Bytes,
}

/// A test upstream: records requests; answers with `status()` after `delay`.
#[derive(Clone)]
struct Upstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    status: Arc<AtomicU32>,
}

impl Upstream {
    async fn start(delay: Duration) -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let status = Arc::new(AtomicU32::new(200));
        let upstream = Upstream {
            addr,
            seen: seen.clone(),
            status: status.clone(),
        };
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let seen = seen.clone();
                let status = status.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let seen = seen.clone();
                        let status = status.load(Ordering::SeqCst) as u16;
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.unwrap().to_bytes();
                            seen.lock().unwrap().push(Seen {
                                method: parts.method.to_string(),
                                path_and_query: parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default(),
                                headers: parts
                                    .headers
                                    .iter()
                                    .map(|(k, v)| {
                                        (k.to_string(), v.to_str().unwrap_or("").to_owned())
                                    })
                                    .collect(),
                                body: body.clone(),
                            });
                            if !delay.is_zero() {
                                tokio::time::sleep(delay).await;
                            }
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(status)
                                    .header("x-upstream", "yes")
                                    .body(Full::new(body))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        upstream
    }

    fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

struct Fixture {
    running: Running,
    echo: Upstream,
    failing: Upstream,
    slow: Upstream,
}

async fn fixture() -> Fixture {
    let echo = Upstream::start(Duration::ZERO).await;
    let failing = Upstream::start(Duration::ZERO).await;
    let slow = Upstream::start(Duration::from_secs(5)).await;
    let config = format!(
        r#"
[[service]]
name = "echo"
url = "http://{echo}/base"
retry = {{ max_attempts = 3, base_delay = "5ms", max_delay = "20ms" }}

[[service]]
name = "failing"
url = "http://{failing}"
retry = {{ max_attempts = 1 }}
breaker = {{ consecutive_failures = 3, open_duration = "300ms", success_threshold = 1 }}

[[service]]
name = "slow"
url = "http://{slow}"
timeouts = {{ connect = "100ms", response_headers = "200ms", attempt = "200ms", total = "300ms" }}
"#,
        echo = echo.addr,
        failing = failing.addr,
        slow = slow.addr,
    );
    let path = std::env::temp_dir().join(format!(
        "gateway-test-{}-{}.toml",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::write(&path, config).unwrap();
    let running = start(Options {
        config: Some(path.clone()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        traffic: false,
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(path);
    Fixture {
        running,
        echo,
        failing,
        slow,
    }
}

async fn send(request: Request<Full<Bytes>>) -> (StatusCode, http::HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("the gateway answers")
        .unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn get(url: String) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test]
async fn proxying_preserves_method_path_query_headers_and_body() {
    let f = fixture().await;
    let request = Request::put(format!(
        "http://{}/echo/items/42?color=blue&n=1",
        f.running.proxy
    ))
    .header("x-custom", "kept")
    .header("connection", "keep-alive, x-hop")
    .header("x-hop", "dropped")
    .body(Full::new(Bytes::from_static(b"payload bytes")))
    .unwrap();
    let (status, headers, body) = send(request).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-upstream"], "yes");
    assert_eq!(body, "payload bytes");
    let seen = f.echo.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.path_and_query, "/base/items/42?color=blue&n=1");
    assert_eq!(seen.headers["x-custom"], "kept");
    assert!(
        !seen.headers.contains_key("x-hop"),
        "named by Connection: hop-by-hop"
    );
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert!(seen.headers["forwarded"].contains("for=\"127.0.0.1\""));
    assert_eq!(seen.body, "payload bytes");
}

#[tokio::test]
async fn a_503_is_retried_for_get_and_not_for_post() {
    let f = fixture().await;
    f.echo.status.store(503, Ordering::SeqCst);
    let (status, _, _) = send(get(format!("http://{}/echo/x", f.running.proxy))).await;
    assert_eq!(status, 503);
    assert_eq!(f.echo.hits(), 3, "GET: three attempts");
    let post = Request::post(format!("http://{}/echo/x", f.running.proxy))
        .body(Full::new(Bytes::from_static(b"once")))
        .unwrap();
    let (status, _, _) = send(post).await;
    assert_eq!(status, 503);
    assert_eq!(f.echo.hits(), 4, "POST: one attempt");
}

#[tokio::test]
async fn the_breaker_opens_sheds_load_and_closes_after_recovery() {
    let f = fixture().await;
    f.failing.status.store(500, Ordering::SeqCst);
    for _ in 0..3 {
        let (status, _, _) = send(get(format!("http://{}/failing/", f.running.proxy))).await;
        assert_eq!(status, 500);
    }
    assert_eq!(f.failing.hits(), 3);
    for _ in 0..10 {
        let (status, headers, body) =
            send(get(format!("http://{}/failing/", f.running.proxy))).await;
        assert_eq!(status, 503);
        assert!(headers.contains_key("retry-after"));
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["service"], "failing");
        assert_eq!(body["class"], "rejected");
    }
    assert_eq!(f.failing.hits(), 3, "the upstream stops receiving requests");

    // Recovery: the upstream heals; once the breaker's open time has passed (we
    // wait exactly what it reports), a probe closes it.
    f.failing.status.store(200, Ordering::SeqCst);
    let service = f.running.gateway.service("failing").unwrap();
    if let Some(remaining) = service.breaker.open_remaining() {
        tokio::time::sleep(remaining + Duration::from_millis(20)).await;
    }
    let (status, _, _) = send(get(format!("http://{}/failing/", f.running.proxy))).await;
    assert_eq!(status, 200);
    assert_eq!(service.breaker.state().as_str(), "closed");
}

#[tokio::test]
async fn the_deadline_bounds_a_slow_upstream() {
    let f = fixture().await;
    let start = Instant::now();
    let (status, _, body) = send(get(format!("http://{}/slow/", f.running.proxy))).await;
    let took = start.elapsed();
    assert_eq!(status, 504);
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["service"], "slow");
    assert_eq!(body["class"], "deadline_exceeded");
    assert!(f.slow.hits() >= 1);
}

#[tokio::test]
async fn unknown_services_are_404_and_large_bodies_413() {
    let f = fixture().await;
    let (status, _, _) = send(get(format!("http://{}/nope/x", f.running.proxy))).await;
    assert_eq!(status, 404);
    let big = Request::post(format!("http://{}/echo/x", f.running.proxy))
        .body(Full::new(Bytes::from(vec![b'x'; 2 << 20])))
        .unwrap();
    let (status, _, _) = send(big).await;
    assert_eq!(status, 413);
    assert_eq!(f.echo.hits(), 0);
}

#[tokio::test]
async fn admin_health_metrics_and_breaker_control() {
    let f = fixture().await;
    let admin = f.running.admin;
    let (status, _, body) = send(get(format!("http://{admin}/health"))).await;
    assert_eq!(status, 200);
    let health: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(health["echo"]["breaker"], "closed");
    assert!(health["echo"]["latency_ms"].as_f64().is_some());

    send(get(format!("http://{}/echo/x", f.running.proxy))).await;
    let (status, headers, body) = send(get(format!("http://{admin}/metrics"))).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("gateway_requests_total"), "{text}");
    assert!(text.contains("gateway_breaker_state"), "{text}");

    let force = |command: &'static str| {
        Request::post(format!("http://{admin}/breakers/echo"))
            .body(Full::new(Bytes::from_static(command.as_bytes())))
            .unwrap()
    };
    let (status, _, _) = send(force("open")).await;
    assert_eq!(status, 200);
    let (status, _, _) = send(get(format!("http://{}/echo/x", f.running.proxy))).await;
    assert_eq!(status, 503);
    let hits = f.echo.hits();
    send(force("auto")).await;
    let (status, _, _) = send(get(format!("http://{}/echo/x", f.running.proxy))).await;
    assert_eq!(status, 200);
    assert_eq!(f.echo.hits(), hits + 1);
    let (status, _, _) = send(force("sideways")).await;
    assert_eq!(status, 400);
}

#[test]
fn a_bad_configuration_is_refused_with_file_key_and_reason() {
    let cases = [
        (
            "[[service]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\ntimeouts = { attempt = \"5x\" }\n",
            "service[0].timeouts.attempt",
        ),
        (
            "[[service]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\ntimeouts = { attempt = \"10s\", total = \"2s\" }\n",
            "service[0].timeouts",
        ),
        (
            "[[service]]\nname = \"a\"\nurl = \"ftp://x\"\n",
            "service[0].url",
        ),
        (
            "[[service]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\nretry = { jitter = \"lots\" }\n",
            "service[0].retry.jitter",
        ),
        (
            "[[service]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\nbreaker = { half_open_probes = 0 }\n",
            "service[0].breaker",
        ),
        (
            "[[service]]\nname = \"a\"\nurl = \"http://x\"\ncolour = 1\n",
            "line",
        ),
    ];
    for (text, key) in cases {
        let err = GatewayConfig::parse("gateway.toml", text).unwrap_err();
        assert_eq!(err.file, "gateway.toml");
        assert!(err.key.starts_with(key), "{err}");
        assert!(err.to_string().starts_with("gateway.toml: "), "{err}");
    }
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_413() {
    let f = fixture().await;
    // No content-length: the limit is found while streaming.
    let chunks: Vec<Result<http_body::Frame<Bytes>, Infallible>> = (0..40)
        .map(|_| Ok(http_body::Frame::data(Bytes::from(vec![b'x'; 64 * 1024]))))
        .collect();
    let body = http_body_util::StreamBody::new(futures::stream::iter(chunks));
    let client = Client::builder(TokioExecutor::new()).build_http();
    let request = Request::post(format!("http://{}/echo/x", f.running.proxy))
        .body(body)
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, 413, "{body:?}");
}

#[tokio::test]
async fn an_opened_breaker_posts_an_alert_to_the_webhook() {
    // A webhook that records what it receives.
    let webhook = Upstream::start(Duration::ZERO).await;
    let failing = Upstream::start(Duration::ZERO).await;
    failing.status.store(500, Ordering::SeqCst);
    let config = format!(
        "alert_webhook = \"http://{}/alerts\"\n[[service]]\nname = \"failing\"\nurl = \"http://{}\"\nretry = {{ max_attempts = 1 }}\nbreaker = {{ consecutive_failures = 2 }}\n",
        webhook.addr, failing.addr
    );
    let path = std::env::temp_dir().join(format!("gateway-alert-{}.toml", fastrand::u64(..)));
    std::fs::write(&path, config).unwrap();
    let running = start(Options {
        config: Some(path.clone()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        traffic: false,
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(path);
    for _ in 0..2 {
        send(get(format!("http://{}/failing/", running.proxy))).await;
    }
    // The alert is sent in the background: wait for it, within a bound.
    let deadline = Instant::now() + Duration::from_secs(5);
    while webhook.hits() == 0 && Instant::now() < deadline {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = webhook.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one alert");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path_and_query, "/alerts");
    let alert: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(alert["service"], "failing");
    assert_eq!(alert["alert"], "circuit breaker opened");
}
