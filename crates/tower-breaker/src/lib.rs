//! A correct, lock-free circuit breaker for tower.
//!
//! When an upstream fails, calling it anyway costs every caller a timeout and
//! keeps the upstream down. A breaker notices, opens, and makes calls fail at
//! once, with an error that says when to try again; after a while it lets a few
//! probes through, and closes again when they succeed (the pattern of Michael
//! Nygard's *Release It!*).
//!
//! - **States**: closed, open, half-open; and for operators forced-open, disabled
//!   and metrics-only ([`State`]).
//! - **Trip rules** ([`BreakerConfig`]): consecutive failures; failure rate over
//!   the last N calls (a real ring) or over a time window of buckets; slow-call
//!   rate; a minimum number of calls before any rate applies.
//! - **Open and half-open**: a fixed open duration, or one that grows with each
//!   consecutive trip (exponential, jittered, capped); a limited number of probes
//!   (1 by default), a number of successes to close; a probe whose future is
//!   dropped gives its slot back.
//! - **Fail fast**: while open, `call` returns at once, without calling the inner
//!   service, a [`tower_error_class::Error`] of class
//!   [`Rejected`](tower_error_class::Rejected) with the time until it
//!   half-opens. `poll_ready` never returns it (many services treat a readiness
//!   error as fatal); a backpressure mode makes `poll_ready` wait instead.
//! - **Classification** by `tower-error-class`: server errors, transport
//!   failures, connect failures and attempt timeouts count; client errors,
//!   cancellations, throttling and local rejections do not. Overridable.
//! - **Per-key** breakers ([`KeyedBreakerLayer`]), by authority or a key function,
//!   bounded, idle ones evicted first.
//! - **Observation and control**: a [`BreakerHandle`] to read state and counts and
//!   force states; state-change events as a callback and a broadcast stream with
//!   the key, old and new state and the reason; `tracing` events; counters and a
//!   state gauge through `metrics` (feature `metrics`).
//! - **Concurrency**: the state is one atomic word; a transition is one
//!   compare-and-swap, so exactly one caller trips the breaker and no more probes
//!   than permitted are ever admitted (checked with `loom`). A closed call is a few
//!   atomic operations: no lock, no allocation, no timer.
//! - **Time** is `tokio::time`, so every test runs under `tokio::time::pause()`.
//!
//! # Stacking
//!
//! ```
//! use std::time::Duration;
//! use tower::{Service, ServiceBuilder, ServiceExt};
//! use tower_breaker::{BreakerConfig, BreakerLayer, State};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // An upstream that is down: every call is a 503.
//! let upstream = tower::service_fn(|_req: http::Request<()>| async {
//!     Ok::<_, std::io::Error>(http::Response::builder().status(503).body(()).unwrap())
//! });
//! let config = BreakerConfig::new()
//!     .consecutive_failures(3)
//!     .open_for(Duration::from_secs(5))
//!     .build()
//!     .unwrap();
//! let breaker = BreakerLayer::new(config);
//! let handle = breaker.handle();
//! let mut svc = ServiceBuilder::new().layer(breaker).service(upstream);
//!
//! for _ in 0..3 {
//!     let res = svc.ready().await.unwrap().call(http::Request::new(())).await.unwrap();
//!     assert_eq!(res.status(), 503);
//! }
//! assert_eq!(handle.state(), State::Open);
//! let err = svc.ready().await.unwrap().call(http::Request::new(())).await.unwrap_err();
//! assert!(err.is_rejected());
//! assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod circuit;
mod config;
pub mod keyed;
pub mod service;
mod shared;
mod sync;
mod window;

pub use circuit::{Reason, State, Transition};
pub use config::{BreakerConfig, ConfigError, OpenDuration, SlowCalls, TripRule, Window};
pub use keyed::{KeyedBreaker, KeyedBreakerLayer};
pub use service::{Breaker, BreakerLayer, ResponseFuture};
pub use shared::{BreakerHandle, OnStateChange, StateChange};
pub use window::Counts;

/// The state machine alone, for model checking (`cfg(loom)`) and property tests:
/// not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::circuit::{Circuit, Hook, Permit, Verdict};
}
