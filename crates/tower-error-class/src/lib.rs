//! One vocabulary for every failure of a network call.
//!
//! Retry, circuit breaking, timeouts, metrics and logs all have to answer the same
//! question: *what happened to this attempt?* Written once per layer, the answers
//! drift apart: the retry policy retries a 429 that the breaker counts as a failure,
//! the dashboard calls a deadline a server error. This crate answers it once.
//!
//! - [`Class`]: what one attempt's outcome was (success, not sent, transport,
//!   timeout by tier, deadline exceeded, cancelled, throttled with its delay,
//!   server error, not implemented, client error, rejected locally), `Copy` and
//!   free to pass around, with the verdicts that follow ([`Class::verdict`]).
//! - [`Classifier`]s that compute it: [`HttpClassifier`], [`GrpcClassifier`] (and
//!   [`ClassifyTrailers`] for the status in trailers), [`classify_error`] for error
//!   chains (io, hyper, h2, tonic and our own), [`classify_fn`] for closures; every
//!   default overridable.
//! - [`Error`]: the one error type of the whole stack, with its class, a message and
//!   the source chain; and the concrete errors that our layers raise ([`Elapsed`],
//!   [`DeadlineExceeded`], [`Rejected`], [`NotRetried`]), which anyone can find in a
//!   `Box<dyn Error>` with [`find`].
//! - [`ClassifyLayer`]: the outermost layer of a stack, one error type out and the
//!   class of each response recorded.
//! - Adapters: [`Error::to_response`] and [`ErrorResponseLayer`] for HTTP servers
//!   (axum needs no `HandleErrorLayer` closure), `Error::to_status` for tonic.
//! - Total parsers for the headers classification reads: [`RetryAfter`],
//!   `grpc-status`, `grpc-message`, `grpc-timeout` (in [`grpc`]).
//!
//! # Stacking
//!
//! ```
//! use std::time::Duration;
//! use tower::{Service, ServiceBuilder, ServiceExt};
//! use tower_error_class::{response_class, Class, ClassifyLayer, Error};
//!
//! # tokio_test::block_on(async {
//! // Any tower service: here, an upstream that answers 503 with a Retry-After.
//! let upstream = tower::service_fn(|_req: http::Request<()>| async {
//!     let res = http::Response::builder()
//!         .status(503)
//!         .header("retry-after", "3")
//!         .body(())
//!         .unwrap();
//!     Ok::<_, std::io::Error>(res)
//! });
//!
//! let mut client = ServiceBuilder::new()
//!     .layer(ClassifyLayer::http())
//!     .service(upstream);
//!
//! let res = client.ready().await?.call(http::Request::new(())).await?;
//! let class = response_class(&res);
//! assert_eq!(class.as_str(), "throttled");
//! assert_eq!(class.retry_after(), Some(Duration::from_secs(3)));
//! assert!(class.is_retryable(false)); // 503 + Retry-After: wait, then retry
//! assert_eq!(class.breaker(), tower_error_class::BreakerVerdict::Ignore);
//! # Ok::<_, Error>(())
//! # }).unwrap();
//! ```
//!
//! # The table
//!
//! | class | examples | retry | breaker |
//! |---|---|---|---|
//! | success | 2xx, 3xx, gRPC `OK` | - | success |
//! | not sent | connect refused or timed out, h2 `REFUSED_STREAM`, `GOAWAY` above our stream, 408 | yes, any method | failure if connecting, else ignored |
//! | transport | reset or EOF after the request was written | idempotent only | failure |
//! | timeout | response headers, attempt | idempotent only | failure |
//! | timeout | body idle, body total | no | failure |
//! | deadline exceeded | the total budget is spent | never | ignored |
//! | cancelled | the caller went away | never | ignored |
//! | throttled | 429, 503 + `Retry-After`, `RESOURCE_EXHAUSTED` | yes, after the delay | ignored |
//! | server error | 500, 502, 503, 504, `INTERNAL`, `UNAVAILABLE` | idempotent only | failure |
//! | not implemented | 501, `UNIMPLEMENTED` | no | success |
//! | client error | other 4xx, `INVALID_ARGUMENT`, `NOT_FOUND` | no | success |
//! | rejected | breaker open, budget spent, load shed | no | ignored |
//!
//! # Features
//!
//! - `hyper`: recognise `hyper::Error` and `hyper_util` client errors in chains.
//! - `h2`: recognise `h2::Error` (`REFUSED_STREAM`, `GOAWAY`) in chains.
//! - `tonic`: `Error::to_status`, `From<Error> for tonic::Status`,
//!   `classify_status`, and `StatusLayer`, which turns a client stack's errors into
//!   `tonic::Status` before tonic makes `UNKNOWN` of them.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod chain;
mod class;
mod classify;
pub mod classify_layer;
mod error;
pub mod grpc;
mod kinds;
mod request;
pub mod respond;
mod retry_after;
#[cfg(feature = "tonic")]
mod tonic;

pub use chain::{classify_error, find};
pub use class::{
    BreakerVerdict, Class, Code, NotSent, Rejection, Throttle, Tier, Transport, Verdict,
};
pub use classify::{
    Classifier, ClassifyFn, ClassifyTrailers, ErrorClassifier, GrpcClassifier, HttpClassifier,
    Outcome, classify_fn, default_grpc_class, default_http_class,
};
pub use classify_layer::{Classify, ClassifyLayer, RecordClass, response_class};
pub use error::{BoxError, Error, ParseError};
pub use grpc::GrpcCode;
pub use kinds::{DeadlineExceeded, Elapsed, NotRetried, NotRetriedReason, Rejected};
pub use request::{IDEMPOTENCY_KEY, Idempotent, is_idempotent, is_idempotent_method};
pub use respond::{ErrorResponse, ErrorResponseLayer, Grpc, Http, Respond};
pub use retry_after::{RetryAfter, retry_after};
#[cfg(feature = "tonic")]
pub use tonic::{StatusFuture, StatusLayer, StatusService, classify_status};
