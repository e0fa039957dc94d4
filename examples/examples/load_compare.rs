//! Sets up the load comparison of BENCHMARKS.md: one steady upstream on
//! 127.0.0.1, the gateway in front of it (all four layers), and a bare hyper
//! reverse proxy in front of it (no middleware), then waits for Ctrl-C while a
//! load generator is pointed at each:
//!
//! ```sh
//! cargo run --release --example load_compare
//! wrk -t2 -c32 -d10s http://127.0.0.1:18081/steady/x   # the gateway
//! wrk -t2 -c32 -d10s http://127.0.0.1:18082/x          # the bare proxy
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use examples::gateway::{Options, start};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

async fn serve<S>(addr: SocketAddr, make: impl Fn() -> S + Send + 'static)
where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<axum::body::Body>,
            Error = Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = make();
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

#[tokio::main]
async fn main() {
    let upstream: SocketAddr = "127.0.0.1:18080".parse().unwrap();
    serve(upstream, || {
        hyper::service::service_fn(|_req: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(axum::body::Body::new(Full::new(
                Bytes::from_static(b"{\"ok\":true}"),
            ))))
        })
    })
    .await;

    let config = format!("[[service]]\nname = \"steady\"\nurl = \"http://{upstream}\"\n");
    let path = std::env::temp_dir().join("load-compare.toml");
    std::fs::write(&path, config).unwrap();
    let running = start(Options {
        config: Some(path),
        listen: Some("127.0.0.1:18081".parse().unwrap()),
        admin_listen: Some("127.0.0.1:18091".parse().unwrap()),
        traffic: false,
    })
    .await
    .unwrap();

    // The bare proxy: the same hyper-util client, no layers.
    let client = Client::builder(TokioExecutor::new()).build_http::<Incoming>();
    serve("127.0.0.1:18082".parse().unwrap(), move || {
        let client = client.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let client = client.clone();
            async move {
                let (mut parts, body) = req.into_parts();
                let path = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                parts.uri = format!("http://{upstream}{path}").parse().unwrap();
                let response = match client.request(Request::from_parts(parts, body)).await {
                    Ok(response) => response.map(axum::body::Body::new),
                    Err(_) => Response::builder()
                        .status(502)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                };
                Ok::<_, Infallible>(response)
            }
        })
    })
    .await;
    println!(
        "upstream {upstream}; gateway {}; bare proxy 127.0.0.1:18082",
        running.proxy
    );
    let _ = tokio::signal::ctrl_c().await;
}
