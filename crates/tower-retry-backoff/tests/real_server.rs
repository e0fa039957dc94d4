//! Against a real hyper server on 127.0.0.1 that fails the first attempts: a
//! streaming request body under the replay cap arrives byte-identical on every
//! attempt; one over the cap is sent once and not retried.

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
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::{Layer, ServiceExt};
use tower_error_class::NotRetriedReason;
use tower_retry_backoff::{Budget, Constant, ReplayBody, RetryLayer, RetryPolicy};

type Received = Arc<Mutex<Vec<Bytes>>>;

/// A server that reads each request body in full, records it, and answers 503 to
/// the first `failures` requests, 200 after.
async fn server(failures: usize) -> (SocketAddr, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    let log = received.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let log = log.clone();
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let n = {
                            let mut log = log.lock().unwrap();
                            log.push(body);
                            log.len()
                        };
                        let status = if n <= failures { 503 } else { 200 };
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
    (addr, received)
}

type Streaming =
    StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

/// A streaming body of `chunks` chunks of `size` bytes, each chunk different.
fn streaming(chunks: usize, size: usize) -> (Streaming, Bytes) {
    let mut all = Vec::new();
    let frames: Vec<_> = (0..chunks)
        .map(|i| {
            let chunk: Vec<u8> = (0..size).map(|j| ((i * 31 + j) % 251) as u8).collect();
            all.extend_from_slice(&chunk);
            Ok(Frame::data(Bytes::from(chunk)))
        })
        .collect();
    (
        StreamBody::new(futures::stream::iter(frames)),
        Bytes::from(all),
    )
}

fn policy() -> RetryPolicy<tower_error_class::HttpClassifier, Constant> {
    RetryPolicy::new()
        .max_attempts(4)
        .backoff(Constant::new(Duration::from_millis(10)))
        .budget(Budget::unlimited())
        .seed(1)
}

#[tokio::test]
async fn a_streaming_body_under_the_cap_arrives_identical_on_every_attempt() {
    let (addr, received) = server(2).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<ReplayBody<Streaming>>();
    let svc = RetryLayer::new(policy()).layer(client);
    let (body, expected) = streaming(16, 1000); // 16 000 bytes, under 64 KiB
    let request = Request::put(format!("http://{addr}/upload"))
        .body(body)
        .unwrap();
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 3, "two failures, then success");
    for (attempt, body) in received.iter().enumerate() {
        assert_eq!(body, &expected, "attempt {} differs", attempt + 1);
    }
}

#[tokio::test]
async fn a_body_over_the_cap_is_sent_once_and_not_retried() {
    let (addr, received) = server(2).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<ReplayBody<Streaming>>();
    let svc = RetryLayer::new(policy()).layer(client);
    let (body, expected) = streaming(100, 1000); // 100 000 bytes, over 64 KiB
    let request = Request::put(format!("http://{addr}/upload"))
        .body(body)
        .unwrap();
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.extensions().get::<NotRetriedReason>(),
        Some(&NotRetriedReason::BodyTooLarge { limit: 64 * 1024 })
    );
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0], expected, "sent once, in full");
}
