//! Against a real hyper server on 127.0.0.1 that starts failing and later
//! recovers: the breaker opens, sheds load (the server stops receiving requests),
//! and closes after recovery. Real sockets; the breaker's clock is paused, so
//! the open duration is passed with `advance`, not waited for.
#![cfg(not(loom))]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::{Layer, Service, ServiceExt};
use tower_breaker::{BreakerConfig, KeyedBreakerLayer, State};

#[tokio::test(start_paused = true)]
async fn opens_sheds_load_and_closes_after_recovery() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let failing = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU32::new(0));
    {
        let failing = failing.clone();
        let received = received.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let failing = failing.clone();
                let received = received.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
                        received.fetch_add(1, Ordering::SeqCst);
                        let status = if failing.load(Ordering::SeqCst) {
                            500
                        } else {
                            200
                        };
                        async move {
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
    }

    let config = BreakerConfig::new()
        .consecutive_failures(3)
        .open_for(Duration::from_millis(300))
        .successes_to_close(2)
        .build()
        .unwrap();
    let breakers = KeyedBreakerLayer::per_authority(config);
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut svc = breakers.layer(client);
    let request = || {
        Request::get(format!("http://{addr}/"))
            .body(Empty::new())
            .unwrap()
    };
    let key = addr.to_string();

    // Healthy.
    for _ in 0..5 {
        let res = svc.ready().await.unwrap().call(request()).await.unwrap();
        assert_eq!(res.status(), 200);
    }
    // The server starts failing: three failures open the breaker.
    failing.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        let res = svc.ready().await.unwrap().call(request()).await.unwrap();
        assert_eq!(res.status(), 500);
    }
    let handle = breakers.handle(&key).expect("one breaker for the server");
    assert_eq!(handle.state(), State::Open);
    let before = received.load(Ordering::SeqCst);
    assert_eq!(before, 8);

    // While open, 100 calls are shed: the server receives none of them.
    let mut rejected = 0;
    for _ in 0..100 {
        if let Err(err) = svc.ready().await.unwrap().call(request()).await {
            assert!(err.is_rejected());
            rejected += 1;
        }
    }
    assert_eq!(rejected, 100);
    assert_eq!(received.load(Ordering::SeqCst), before);

    // The server recovers; after the open duration, probes close the breaker.
    failing.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_millis(300)).await;
    for _ in 0..2 {
        let res = svc.ready().await.unwrap().call(request()).await.unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(received.load(Ordering::SeqCst), before + 2);
}
