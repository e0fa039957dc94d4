//! The [`Retry`] service: attempts, backoff, budget, `Retry-After`, deadline.
//!
//! Why: retries done wrong turn a brief outage into a retry storm. A hand-written
//! `tower::retry::Policy` usually retries a `POST` after a reset (and charges the
//! customer twice), sleeps past the caller's deadline, ignores `Retry-After`, has
//! no budget, and cannot retry an `http::Request` at all because its body is not
//! `Clone`. This service does the safe thing by default:
//!
//! - it asks the classifier what each attempt's outcome was, and retries only what
//!   [`Class::is_retryable`](tower_error_class::Class::is_retryable) allows for
//!   the request: any request when the failure proves it was not sent (connect
//!   refused, h2 `REFUSED_STREAM`), idempotent ones after an ambiguous failure;
//! - it waits the backoff, or the server's `Retry-After`, but never past the
//!   request's [`tower_timeout_tiered::Deadline`]: when what remains is
//!   shorter than the wait, it stops at once with the last failure, class intact;
//! - every retry is taken from a [`Budget`](crate::Budget) shared by all clones;
//! - the request body is kept (up to a cap) as it is sent, so it can be sent again;
//! - the inner service is polled ready before every attempt (the tower contract).
//!
//! A response is returned as it came (a final 503 is still a response); an error
//! is returned as a [`tower_error_class::Error`] whose source is a
//! [`NotRetried`](tower_error_class::NotRetried) saying why it was not retried
//! further, when it could have been. A final response that is not a success
//! carries its [`Class`](tower_error_class::Class) and the
//! [`NotRetriedReason`](tower_error_class::NotRetriedReason) in its extensions.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use tower_error_class::{BoxError, Classifier, Error, IDEMPOTENCY_KEY, Idempotent};
use tower_service::Service;
use tower_timeout_tiered::Deadline;

use crate::backoff::Backoff;
use crate::policy::RetryPolicy;
use crate::replay::{Replay, ReplayBody};
use crate::stats::RetryStats;

mod future;
mod layer;

pub use future::ResponseFuture;
pub use layer::RetryLayer;

/// What the clones of one layer share.
pub(crate) struct Shared<C, B> {
    pub(crate) policy: RetryPolicy<C, B>,
    pub(crate) stats: Arc<RetryStats>,
    pub(crate) seed: u64,
    /// Calls that needed a random draw, to give each its own seed.
    pub(crate) draws: AtomicU64,
}

/// Retries calls to the inner service: see the [module docs](self).
pub struct Retry<S, C, B> {
    inner: S,
    shared: Arc<Shared<C, B>>,
}

impl<S: Clone, C, B> Clone for Retry<S, C, B> {
    fn clone(&self) -> Self {
        Retry {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: std::fmt::Debug, C: std::fmt::Debug, B: std::fmt::Debug> std::fmt::Debug
    for Retry<S, C, B>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("inner", &self.inner)
            .field("policy", &self.shared.policy)
            .finish()
    }
}

impl<S, C, B> Retry<S, C, B> {
    /// The counts of this layer (shared by all its clones).
    pub fn stats(&self) -> &Arc<RetryStats> {
        &self.shared.stats
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, C, B, ReqBody, ResBody> Service<Request<ReqBody>> for Retry<S, C, B>
where
    S: Service<Request<ReplayBody<ReqBody>>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    C: Classifier<Response<ResBody>>,
    B: Backoff,
    ReqBody: Body,
{
    type Response = Response<ResBody>;
    type Error = Error;
    type Future = ResponseFuture<S, ReqBody, C, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let policy = &self.shared.policy;
        policy.budget.deposit();
        self.shared.stats.call();
        let (parts, body) = request.into_parts();
        let idempotent = match parts.extensions.get::<Idempotent>() {
            Some(Idempotent(idempotent)) => *idempotent,
            None => {
                parts.headers.contains_key(IDEMPOTENCY_KEY)
                    || tower_error_class::is_idempotent_method(&parts.method)
            }
        };
        let deadline = parts.extensions.get::<Deadline>().copied();
        let retries = policy.max_attempts > 1;
        let (replay, first_body) = Replay::new(body, policy.replay_limit);
        // The inner service takes the request; a retry needs its head again.
        let template = retries.then(|| parts.clone());
        let service = retries.then(|| self.inner.clone());
        let future = self.inner.call(Request::from_parts(parts, first_body));
        ResponseFuture::new(
            future,
            service,
            self.shared.clone(),
            template,
            replay,
            idempotent,
            deadline,
        )
    }
}
