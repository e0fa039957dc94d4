//! A hyper-util client with every timeout tier, retry of a streaming `POST` body,
//! and one breaker per upstream host.
//!
//! `cargo run --example hyper_client` runs [`demo`] and prints what happens.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_breaker::{BreakerConfig, KeyedBreakerLayer, State};
use tower_error_class::{Class, Error};
use tower_retry_backoff::{ReplayBody, RetryLayer, RetryPolicy};
use tower_timeout_tiered::Timeouts;

/// A streaming request body.
pub type Streaming =
    StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

fn streaming(chunks: &[&'static [u8]]) -> Streaming {
    let frames: Vec<_> = chunks
        .iter()
        .map(|chunk| Ok(Frame::data(Bytes::from_static(chunk))))
        .collect();
    StreamBody::new(futures::stream::iter(frames))
}

/// What the demo saw.
#[derive(Debug)]
pub struct Report {
    /// The upload's final status.
    pub upload_status: u16,
    /// The bodies the upload server received, one per attempt.
    pub upload_bodies: Vec<Bytes>,
    /// The classes of the calls to a host nothing listens on.
    pub down_classes: Vec<Class>,
    /// The breaker of the down host, after those calls.
    pub down_breaker: State,
    /// The breaker of the upload host.
    pub upload_breaker: State,
}

/// A server that records each upload's body and answers 503 to the first.
async fn upload_server() -> (SocketAddr, Arc<Mutex<Vec<Bytes>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let log = bodies.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let log = log.clone();
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let first = {
                            let mut log = log.lock().unwrap();
                            log.push(body);
                            log.len() == 1
                        };
                        let status = if first { 503 } else { 200 };
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
                                .body(Empty::<Bytes>::new())
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
    (addr, bodies)
}

/// Runs the client against a local upload server and a closed port.
pub async fn demo() -> Report {
    let (upload, bodies) = upload_server().await;
    let down = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };

    let timeouts = Timeouts::new()
        .connect(Duration::from_millis(250))
        .response_headers(Duration::from_secs(1))
        .attempt(Duration::from_secs(2))
        .total(Duration::from_secs(5))
        .build()
        .expect("consistent timeouts");
    let connector = timeouts
        .connect_layer()
        .expect("a connect tier")
        .layer(HttpConnector::new());
    let client = Client::builder(TokioExecutor::new()).build::<_, ReplayBody<Streaming>>(connector);
    let breakers: KeyedBreakerLayer<ReplayBody<Streaming>> = KeyedBreakerLayer::per_authority(
        BreakerConfig::new()
            .consecutive_failures(2)
            .build()
            .expect("a valid breaker"),
    );
    let mut svc = ServiceBuilder::new()
        .layer(timeouts.deadline_layer().expect("a total deadline"))
        .layer(RetryLayer::new(RetryPolicy::new().seed(1)))
        .layer(breakers.clone())
        .layer(timeouts.attempt_layer(tower_timeout_tiered::Propagation::None))
        .service(client);

    // A streaming POST: not idempotent, so it carries an Idempotency-Key, and the
    // 503 of its first attempt is retried with the same bytes.
    let request = Request::post(format!("http://{upload}/upload"))
        .header("idempotency-key", "order-1234")
        .body(streaming(&[
            b"first chunk, ",
            b"second chunk, ",
            b"last chunk",
        ]))
        .unwrap();
    let response = svc.ready().await.unwrap().call(request).await.unwrap();
    let upload_status = response.status().as_u16();

    let mut down_classes = Vec::new();
    for _ in 0..3 {
        let request = Request::get(format!("http://{down}/"))
            .body(streaming(&[]))
            .unwrap();
        let result: Result<_, Error> = svc.ready().await.unwrap().call(request).await;
        if let Err(err) = result {
            down_classes.push(err.class());
        }
    }
    let state = |addr: SocketAddr| {
        breakers
            .handle(&addr.to_string())
            .map(|handle| handle.state())
            .unwrap_or(State::Closed)
    };
    Report {
        upload_status,
        upload_bodies: bodies.lock().unwrap().clone(),
        down_classes,
        down_breaker: state(down),
        upload_breaker: state(upload),
    }
}
