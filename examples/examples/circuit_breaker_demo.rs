//! The seed course's circuit-breaker scenario, on our stack and a local server:
//! failure threshold 3, recovery timeout 5 s, success threshold 2. Three failing
//! calls open the breaker; later calls are rejected without reaching the server;
//! after the recovery timeout one probe is admitted; two successes close it.
//!
//! ```sh
//! cargo run --example circuit_breaker_demo
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_breaker::{BreakerConfig, BreakerLayer};

#[tokio::main]
async fn main() {
    // A local stand-in for httpbin: /status/500 while "broken", 200 otherwise.
    let broken = Arc::new(AtomicBool::new(true));
    let received = Arc::new(AtomicU32::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    {
        let broken = broken.clone();
        let received = received.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let broken = broken.clone();
                let received = received.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
                        received.fetch_add(1, Ordering::SeqCst);
                        let status = if broken.load(Ordering::SeqCst) {
                            500
                        } else {
                            200
                        };
                        async move {
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::new()))
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
        .open_for(Duration::from_secs(5))
        .successes_to_close(2)
        .build()
        .expect("a valid configuration");
    let breaker = BreakerLayer::new(config)
        .named("unreliable")
        .on_state_change(|change| {
            println!(
                "  breaker: {} -> {} ({:?})",
                change.from.as_str(),
                change.to.as_str(),
                change.reason
            )
        });
    let handle = breaker.handle();
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut svc = ServiceBuilder::new().layer(breaker).service(client);
    let url = format!("http://{addr}/status/500");

    println!("Testing failure scenarios against {url}");
    for n in 1..=5 {
        let request = Request::get(&url).body(Empty::new()).unwrap();
        match svc.ready().await.unwrap().call(request).await {
            Ok(response) => println!("request {n}: HTTP {}", response.status()),
            Err(err) => println!(
                "request {n}: rejected ({err}); retry after {:?}",
                err.retry_after().unwrap_or_default()
            ),
        }
    }
    println!(
        "state: {}; the server received {} requests",
        handle.state().as_str(),
        received.load(Ordering::SeqCst)
    );

    println!("Waiting 5 s for the recovery timeout; the server recovers meanwhile");
    broken.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    for n in 1..=2 {
        let request = Request::get(&url).body(Empty::new()).unwrap();
        let response = svc.ready().await.unwrap().call(request).await;
        match response {
            Ok(response) => println!("recovery request {n}: HTTP {}", response.status()),
            Err(err) => println!("recovery request {n}: {err}"),
        }
    }
    println!("final state: {}", handle.state().as_str());
}
