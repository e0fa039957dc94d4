//! hyper and h2 errors produced by real servers on 127.0.0.1, classified. These
//! errors cannot be constructed by hand, so each scenario makes the library produce
//! them: a refused port, a server that resets or closes after reading the request,
//! an HTTP/2 server that refuses a stream, and one that sends GOAWAY before our
//! stream.
#![cfg(all(feature = "hyper", feature = "h2"))]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_error_class::{
    BreakerVerdict, Class, ClassifyLayer, Error, ErrorResponseLayer, NotSent, Transport,
};

const LIMIT: Duration = Duration::from_secs(10);

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

fn get(addr: SocketAddr) -> Request<Empty<Bytes>> {
    Request::get(format!("http://{addr}/"))
        .body(Empty::new())
        .unwrap()
}

async fn http1_error(addr: SocketAddr) -> Error {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut svc = ServiceBuilder::new()
        .layer(ClassifyLayer::http())
        .service(client);
    let result = tokio::time::timeout(LIMIT, svc.ready().await.unwrap().call(get(addr)))
        .await
        .expect("the client answers within the limit");
    result.expect_err("the call fails")
}

/// Reads one request head from `stream`.
async fn read_head(stream: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed before sending its request");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn refused_port_is_not_sent_and_a_breaker_failure() {
    let (listener, addr) = listener().await;
    drop(listener);
    let err = http1_error(addr).await;
    assert_eq!(err.class(), Class::NotSent(NotSent::ConnectRefused));
    assert!(
        err.class().is_retryable(false),
        "not sent: safe even for POST"
    );
    assert_eq!(err.class().breaker(), BreakerVerdict::Failure);
    assert_eq!(err.to_response::<String>().status(), 502);
}

#[tokio::test]
async fn reset_after_the_request_was_read_is_an_ambiguous_transport_failure() {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        read_head(&mut stream).await;
        // SO_LINGER 0: close with RST instead of FIN.
        stream.set_zero_linger().unwrap();
        drop(stream);
    });
    let err = http1_error(addr).await;
    server.await.unwrap();
    assert_eq!(err.class(), Class::Transport(Transport::Reset), "{err:?}");
    assert!(!err.class().is_retryable(false), "POST must not be retried");
    assert!(err.class().is_retryable(true));
    assert_eq!(err.class().breaker(), BreakerVerdict::Failure);
}

#[tokio::test]
async fn close_after_the_request_was_read_is_an_incomplete_message() {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        read_head(&mut stream).await;
        stream.shutdown().await.unwrap();
    });
    let err = http1_error(addr).await;
    server.await.unwrap();
    assert_eq!(
        err.class(),
        Class::Transport(Transport::Incomplete),
        "{err:?}"
    );
}

/// Sends one request over a fresh HTTP/2 connection to `addr` and returns the error.
async fn h2_error(addr: SocketAddr) -> Error {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let result = tokio::time::timeout(LIMIT, sender.send_request(get(addr)))
        .await
        .expect("the client answers within the limit");
    Error::wrap(result.expect_err("the call fails"))
}

#[tokio::test]
async fn h2_refused_stream_is_not_sent_and_not_a_breaker_failure() {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = h2::server::handshake(stream).await.unwrap();
        if let Some(Ok((_request, mut respond))) = conn.accept().await {
            respond.send_reset(h2::Reason::REFUSED_STREAM);
        }
        // Keep driving the connection so the reset is flushed.
        while conn.accept().await.is_some() {}
    });
    let err = h2_error(addr).await;
    assert_eq!(
        err.class(),
        Class::NotSent(NotSent::RefusedStream),
        "{err:?}"
    );
    assert!(err.class().is_retryable(false));
    assert_eq!(err.class().breaker(), BreakerVerdict::Ignore);
    assert!(err.find::<h2::Error>().is_some());
}

#[tokio::test]
async fn h2_goaway_below_our_stream_is_not_sent() {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        // A hand-driven HTTP/2 server: read the client preface, send our SETTINGS,
        // wait for the request's HEADERS, then GOAWAY with last stream id 0.
        let mut preface = [0u8; 24];
        stream.read_exact(&mut preface).await.unwrap();
        assert_eq!(&preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        stream
            .write_all(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0])
            .await
            .unwrap();
        loop {
            let mut header = [0u8; 9];
            stream.read_exact(&mut header).await.unwrap();
            let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
            let mut payload = vec![0u8; len];
            stream.read_exact(&mut payload).await.unwrap();
            match header[3] {
                // SETTINGS from the client (not an ACK): acknowledge it.
                0x4 if header[4] & 0x1 == 0 => stream
                    .write_all(&[0, 0, 0, 0x4, 0x1, 0, 0, 0, 0])
                    .await
                    .unwrap(),
                // HEADERS: the request. GOAWAY, last stream 0, NO_ERROR.
                0x1 => {
                    let goaway = [0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
                    stream.write_all(&goaway).await.unwrap();
                    break;
                }
                _ => {}
            }
        }
        // Hold the connection open until the client is done with it.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
    });
    let err = h2_error(addr).await;
    assert_eq!(err.class(), Class::NotSent(NotSent::GoAway), "{err:?}");
    assert!(err.class().is_retryable(false));
}

#[tokio::test]
async fn axum_turns_stack_errors_into_responses_without_a_handle_error_closure() {
    use axum::Router;
    use axum::routing::get as route_get;

    // An axum app whose route goes through a fallible stack: the upstream port is
    // closed, so every call fails with "not sent".
    let (closed, closed_addr) = listener().await;
    drop(closed);
    let upstream = Client::builder(TokioExecutor::new()).build_http::<axum::body::Body>();
    let proxy = ServiceBuilder::new()
        .layer(ErrorResponseLayer::new())
        .layer(ClassifyLayer::http())
        .map_request(move |req: axum::extract::Request| {
            let (mut parts, body) = req.into_parts();
            parts.uri = format!("http://{closed_addr}/").parse().unwrap();
            Request::from_parts(parts, body)
        })
        .map_response(|res: http::Response<hyper::body::Incoming>| res.map(axum::body::Body::new))
        .service(upstream);
    let app = Router::new()
        .route("/ok", route_get(|| async { "fine" }))
        .route_service("/upstream", proxy);

    let (listener, addr) = listener().await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let res = client
        .request(
            Request::get(format!("http://{addr}/upstream"))
                .body(Empty::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(
        &body[..],
        br#"{"class":"not_sent","message":"not sent (ConnectRefused)"}"#
    );
}
