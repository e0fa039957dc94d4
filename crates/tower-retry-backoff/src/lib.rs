//! Retries for tower that are safe by default.
//!
//! Retries done wrong turn a brief outage into a retry storm, and charge a
//! customer twice. [`RetryLayer`] makes the safe thing the default:
//!
//! - **what** is retried comes from one classification
//!   ([`tower_error_class::Class`]): any request whose failure proves it was not
//!   sent (connect refused, h2 `REFUSED_STREAM`); idempotent requests (RFC 9110
//!   methods, or an `Idempotency-Key`) after an ambiguous failure (reset, timeout,
//!   502/503/504); never a client error, a cancellation or a spent deadline;
//! - **how long** to wait comes from a [`Backoff`] ([`Constant`], [`Linear`],
//!   [`Exponential`] with [`Jitter`]: none, full, equal, decorrelated,
//!   proportional; seedable), or from the server (`Retry-After`,
//!   `grpc-retry-pushback-ms`), never past the request's
//!   [`Deadline`](tower_timeout_tiered::Deadline);
//! - **how many** is bounded by attempts (3 in total) and by a [`Budget`] shared
//!   by every clone (20% of requests plus 10/s);
//! - **bodies** that are not `Clone` are kept as they are sent, up to 64 KiB, so
//!   the same bytes go again ([`ReplayBody`]);
//! - **what happened** is counted ([`RetryStats`]), told to a listener
//!   ([`RetryPolicy::on_retry`]) and traced.
//!
//! # Stacking
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_error_class::ClassifyLayer;
//! use tower_retry_backoff::{RetryLayer, RetryPolicy};
//! use tower_timeout_tiered::{DeadlineLayer, TimeoutLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), tower_error_class::Error> {
//! // An upstream that fails its first attempt with 503, then answers.
//! let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let upstream = tower::service_fn(move |_req: http::Request<_>| {
//!     let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
//!     async move {
//!         let status = if n == 0 { 503 } else { 200 };
//!         Ok::<_, std::io::Error>(http::Response::builder().status(status).body(()).unwrap())
//!     }
//! });
//!
//! let client = ServiceBuilder::new()
//!     .layer(ClassifyLayer::http())
//!     .layer(DeadlineLayer::new(Duration::from_secs(5)))
//!     .layer(RetryLayer::new(RetryPolicy::new().seed(7)))
//!     .layer(TimeoutLayer::attempt_only(Duration::from_secs(1)))
//!     .service(upstream);
//!
//! // A PUT with a body that is not `Clone`: retried after the 503, body replayed.
//! let request = http::Request::put("http://upstream/item/1")
//!     .body(Full::new(Bytes::from_static(b"{\"name\":\"x\"}")))
//!     .unwrap();
//! let response = client.oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! # Ok(())
//! # }
//! ```
//!
//! # With `tower::retry`
//!
//! This crate has its own service because `tower::retry::Retry` needs `Clone`
//! requests, and `http::Request` with a streaming body is not `Clone`. If you keep
//! a `tower::retry::Policy` of your own (for `Clone` requests of a non-HTTP
//! service), you can still share this crate's vocabulary inside it: classify the
//! outcome with a [`Classifier`](tower_error_class::Classifier) and ask
//! [`Class::is_retryable`](tower_error_class::Class::is_retryable), draw the wait
//! from a [`Backoff`], and take each retry from a [`Budget`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backoff;
pub mod budget;
mod policy;
pub mod replay;
pub mod retry;
mod stats;

pub use backoff::{Backoff, Constant, Exponential, Jitter, Linear};
pub use budget::Budget;
pub use policy::{GRPC_PREVIOUS_RPC_ATTEMPTS, RetryPolicy};
pub use replay::ReplayBody;
pub use retry::{ResponseFuture, Retry, RetryLayer};
pub use stats::{Listener, RetryEvent, RetryStats, StatsSnapshot};
