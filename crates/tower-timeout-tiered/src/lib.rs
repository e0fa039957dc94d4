//! Every timeout tier a production client needs, as tower layers that stack; one
//! deadline that bounds them all and travels on the wire.
//!
//! `tower::timeout` has one duration, returns a `BoxError`, stops at the response
//! head and knows nothing of retries. This crate splits time the way requests
//! spend it:
//!
//! | tier | layer | fires when | class of the error |
//! |---|---|---|---|
//! | connect | [`ConnectTimeoutLayer`] (on the connector) | TCP connect + TLS handshake is too slow | not sent (connect timeout) |
//! | response headers | [`TimeoutLayer::response_headers`] | no response head in time | timeout (response headers) |
//! | attempt | [`TimeoutLayer::attempt`] | one attempt, head and body, is too slow | timeout (attempt) |
//! | total deadline | [`DeadlineLayer`] | the caller's budget is spent | deadline exceeded |
//! | body idle | [`TimeoutLayer::body_idle`] | no body frame for too long | timeout (body idle) |
//! | body total | [`TimeoutLayer::body_total`] | the body takes too long | timeout (body total) |
//!
//! Every error is a [`tower_error_class::Error`] whose source is an
//! [`Elapsed`](tower_error_class::Elapsed) naming the tier and its configured
//! duration, so retry and breaker layers (and people) know what happened without
//! guessing at a `BoxError`.
//!
//! The [`Deadline`] is put in the request's extensions by [`DeadlineLayer`]; the
//! per-attempt [`Timeout`] beneath clamps every tier to what remains of it, the
//! retry layer stops when it is spent, handlers read it. It crosses process
//! boundaries as `grpc-timeout` (or a millisecond header) with
//! [`Propagation`], and [`ServerDeadlineLayer`] enforces it on the server.
//!
//! All tiers of a request share one timer, registered only when the inner future
//! or the body is actually pending; a tier that is not configured costs nothing.
//!
//! # Stacking
//!
//! ```
//! use std::time::Duration;
//! use hyper_util::client::legacy::{Client, connect::HttpConnector};
//! use hyper_util::rt::TokioExecutor;
//! use tower::{Layer, ServiceBuilder};
//! use tower_error_class::ClassifyLayer;
//! use tower_timeout_tiered::{Propagation, Timeouts};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let timeouts = Timeouts::new()
//!     .connect(Duration::from_millis(250))
//!     .response_headers(Duration::from_millis(800))
//!     .attempt(Duration::from_secs(2))
//!     .total(Duration::from_secs(5))
//!     .build()?;
//!
//! // The connect tier wraps the connector...
//! let connector = timeouts.connect_layer().unwrap().layer(HttpConnector::new());
//! let client = Client::builder(TokioExecutor::new())
//!     .build::<_, http_body_util::Empty<bytes::Bytes>>(connector);
//!
//! // ...the others stack around the client, the deadline outermost.
//! let svc = ServiceBuilder::new()
//!     .layer(ClassifyLayer::http())
//!     .option_layer(timeouts.deadline_layer())
//!     // a retry layer and a breaker go here
//!     .layer(timeouts.attempt_layer(Propagation::None))
//!     .service(client);
//! # let _ = svc;
//! # Ok(())
//! # }
//! ```
//!
//! # gRPC: a tonic client and server
//!
//! Propagate the deadline as `grpc-timeout` in front of a tonic `Channel`, and put
//! [`ServerDeadlineLayer::grpc`] under
//! [`ErrorResponseLayer::grpc`](tower_error_class::ErrorResponseLayer::grpc) on
//! the server: the deadline arrives, is enforced there, and a call that runs out
//! of time ends as `DEADLINE_EXCEEDED` on both sides, never `CANCELLED` or
//! `UNKNOWN` (the client's `StatusLayer` sees to that).
//!
//! ```no_run
//! use std::time::Duration;
//! use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
//! use tower::ServiceBuilder;
//! use tower_error_class::{ErrorResponseLayer, StatusLayer};
//! use tower_timeout_tiered::{DeadlineLayer, Propagation, ServerDeadlineLayer, TimeoutLayer};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Server: the caller's grpc-timeout (at most 30 s) bounds every handler.
//! let (_reporter, health) = tonic_health::server::health_reporter();
//! let server = tonic::transport::Server::builder()
//!     .layer(ErrorResponseLayer::grpc())
//!     .layer(ServerDeadlineLayer::grpc().limit(Duration::from_secs(30)))
//!     .add_service(health)
//!     .serve("127.0.0.1:50051".parse()?);
//! tokio::spawn(server);
//!
//! // Client: a 500 ms deadline, enforced here and written as grpc-timeout.
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051")
//!     .connect()
//!     .await?;
//! let stack = ServiceBuilder::new()
//!     .layer(StatusLayer::new())
//!     .layer(DeadlineLayer::new(Duration::from_millis(500)))
//!     .layer(TimeoutLayer::new().propagate(Propagation::Grpc))
//!     .service(channel);
//! let mut client = HealthClient::new(stack);
//! match client.check(HealthCheckRequest::default()).await {
//!     Ok(response) => println!("{:?}", response.into_inner().status()),
//!     Err(status) if status.code() == tonic::Code::DeadlineExceeded => println!("too slow"),
//!     Err(status) => println!("failed: {status}"),
//! }
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alarm;
mod body;
mod config;
pub mod connect;
mod deadline;
pub mod server;
pub mod timeout;
pub mod total;
mod wire;

pub use body::TimeoutBody;
pub use config::{ConfigError, TieredTimeouts, Timeouts};
pub use connect::{ConnectFuture, ConnectTimeout, ConnectTimeoutLayer};
pub use deadline::Deadline;
pub use server::{ServerDeadline, ServerDeadlineLayer};
pub use timeout::{ResponseFuture, Timeout, TimeoutLayer};
pub use total::{DeadlineLayer, WithDeadline};
pub use wire::Propagation;
