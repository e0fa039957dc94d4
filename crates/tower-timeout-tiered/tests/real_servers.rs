//! Every tier against real servers on 127.0.0.1, on the real clock. Each test
//! asserts the tier in the error, and that the measured time is at least the
//! configured one and within a bounded margin of it (the seed's exercise: "measure
//! actual vs expected timeout durations"). The margin is generous: this machine is
//! shared and has two cores.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_error_class::{
    Class, ClassifyLayer, Elapsed, Error, ErrorResponseLayer, NotSent, StatusLayer, Tier,
};
use tower_timeout_tiered::{
    ConnectTimeoutLayer, Deadline, DeadlineLayer, Propagation, ServerDeadlineLayer, TimeoutLayer,
};

/// How far past its configured duration a timeout may be observed to fire.
const MARGIN: Duration = Duration::from_millis(750);

fn assert_within(took: Duration, configured: Duration) {
    assert!(
        took >= configured,
        "fired after {took:?}, before its configured {configured:?}"
    );
    assert!(
        took < configured + MARGIN,
        "fired after {took:?}, more than {MARGIN:?} past its configured {configured:?}"
    );
}

fn failure<T>(result: Result<T, Error>) -> Error {
    match result {
        Ok(_) => panic!("expected the call to fail"),
        Err(err) => err,
    }
}

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

async fn read_head(stream: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed before sending its request");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn client() -> Client<HttpConnector, Empty<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn get(addr: SocketAddr) -> Request<Empty<Bytes>> {
    Request::get(format!("http://{addr}/"))
        .body(Empty::new())
        .unwrap()
}

#[tokio::test]
async fn server_that_never_sends_headers_trips_the_header_tier() {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        read_head(&mut stream).await;
        // Say nothing, keep the connection open.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
    });
    let configured = Duration::from_millis(300);
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::new().response_headers(configured))
        .service(client());
    let start = Instant::now();
    let err = failure(svc.oneshot(get(addr)).await);
    assert_within(start.elapsed(), configured);
    assert_eq!(err.class(), Class::Timeout(Tier::ResponseHeaders));
    assert_eq!(
        err.find::<Elapsed>(),
        Some(&Elapsed::new(Tier::ResponseHeaders, configured))
    );
}

#[tokio::test]
async fn server_that_stalls_mid_body_trips_the_idle_tier() {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        read_head(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst ten.")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
    });
    let configured = Duration::from_millis(300);
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::new().body_idle(configured))
        .service(client());
    let response = svc.oneshot(get(addr)).await.unwrap();
    let mut body = std::pin::pin!(response.into_body());
    let first = body.as_mut().frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "first ten.");
    let since_last_frame = Instant::now();
    let err = body.as_mut().frame().await.unwrap().unwrap_err();
    assert_within(since_last_frame.elapsed(), configured);
    assert_eq!(err.class(), Class::Timeout(Tier::BodyIdle));
    assert_eq!(
        err.find::<Elapsed>(),
        Some(&Elapsed::new(Tier::BodyIdle, configured))
    );
}

#[tokio::test]
async fn full_accept_backlog_trips_the_connect_tier() {
    // A listener with a backlog of one that never accepts: once its queue is full,
    // the kernel drops new SYNs and connects hang.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let _listener = socket.listen(1).unwrap();
    let mut held = Vec::new();
    let mut hung = false;
    for _ in 0..64 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => held.push(stream),
            Ok(Err(err)) => panic!("connect failed instead of hanging: {err}"),
            Err(_) => {
                hung = true;
                break;
            }
        }
    }
    assert!(hung, "the backlog never filled");

    let configured = Duration::from_millis(300);
    let connector = ConnectTimeoutLayer::new(configured).layer(HttpConnector::new());
    let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
    let svc = ServiceBuilder::new()
        .layer(ClassifyLayer::http())
        .service(client);
    let start = Instant::now();
    let err = svc.oneshot(get(addr)).await.unwrap_err();
    assert_within(start.elapsed(), configured);
    assert_eq!(err.class(), Class::NotSent(NotSent::ConnectTimeout));
    assert_eq!(
        err.find::<Elapsed>(),
        Some(&Elapsed::new(Tier::Connect, configured))
    );
    drop(held);
}

/// A layer in front of the gRPC handlers that records the deadline a request
/// arrived with, and is slow: it waits five seconds before serving.
#[derive(Clone)]
struct SlowHandler<S> {
    inner: S,
    seen: Arc<Mutex<Vec<Option<Duration>>>>,
}

impl<S, B> Service<Request<B>> for SlowHandler<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.seen
            .lock()
            .unwrap()
            .push(Deadline::of(&req).map(|d| d.remaining()));
        let mut inner = self.inner.clone();
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            inner.call(req).await
        })
    }
}

/// Starts a tonic health server whose handlers are slow, under
/// `ServerDeadlineLayer::grpc()` and `ErrorResponseLayer::grpc()`.
async fn slow_grpc_server() -> (SocketAddr, Arc<Mutex<Vec<Option<Duration>>>>) {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_by_layer = seen.clone();
    let incoming =
        tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = incoming.local_addr().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(ErrorResponseLayer::grpc())
            .layer(ServerDeadlineLayer::grpc().limit(Duration::from_secs(30)))
            .layer(tower::layer::layer_fn(move |inner| SlowHandler {
                inner,
                seen: seen_by_layer.clone(),
            }))
            .add_service(health)
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    (addr, seen)
}

#[tokio::test]
async fn tonic_deadline_arrives_as_grpc_timeout_and_the_caller_sees_deadline_exceeded() {
    let (addr, seen) = slow_grpc_server().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let configured = Duration::from_millis(400);
    let stack = ServiceBuilder::new()
        .layer(StatusLayer::new())
        .layer(DeadlineLayer::new(configured))
        .layer(TimeoutLayer::new().propagate(Propagation::Grpc))
        .service(channel);
    let mut client = tonic_health::pb::health_client::HealthClient::new(stack);
    let start = Instant::now();
    let status = client
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_within(start.elapsed(), configured);
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");

    let seen = seen.lock().unwrap().clone();
    let arrived = seen[0].expect("the server saw a deadline");
    assert!(
        arrived <= configured && arrived + MARGIN > configured,
        "the server's deadline ({arrived:?}) should be what the client had left of {configured:?}"
    );
}

#[tokio::test]
async fn tonic_server_enforces_an_incoming_grpc_timeout() {
    // A bare HTTP/2 client that sends grpc-timeout and does not time out itself:
    // whatever ends the call at 300 ms is the server.
    let (addr, _seen) = slow_grpc_server().await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = Request::post(format!("http://{addr}/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-timeout", "300m")
        // An empty HealthCheckRequest: not compressed, zero length.
        .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
        .unwrap();
    let start = Instant::now();
    let response: Response<_> = sender.send_request(request).await.unwrap();
    assert_within(start.elapsed(), Duration::from_millis(300));
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "4", "DEADLINE_EXCEEDED");
    let _: Result<_, Infallible> = Ok(());
}
