//! The [`Breaker`] service: fail fast while an upstream is unhealthy.
//!
//! Why: when an upstream is failing, calling it anyway costs the caller a timeout
//! per call and the upstream the load that keeps it down. A breaker counts
//! failures; when its trip rule says the upstream is unhealthy it opens, and calls
//! fail at once, without reaching the inner service, with an error of class
//! *rejected* that says when to try again. After the open duration, a limited
//! number of probes go through; their outcomes close it again or reopen it.
//!
//! `poll_ready` never returns the breaker's refusal: many tower services (`Buffer`
//! among them) treat a readiness error as fatal. The refusal comes from `call`, as
//! an immediately ready future. With [`BreakerLayer::backpressure`], `poll_ready`
//! instead waits while the breaker is open, until it half-opens (half-open with
//! every probe slot taken, and forced open, still refuse in `call`).
//!
//! While closed, a call costs an atomic load, a reference count, and the window's
//! record (two or three atomic operations): no lock, no allocation, no timer, and
//! no clock read unless the rule is a time window or slow calls are tracked.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};
use tower_error_class::{BoxError, BreakerVerdict, Class, Classifier, Error, Rejected};
use tower_service::Service;

use crate::shared::Shared;

mod future;
mod layer;

pub use future::ResponseFuture;
pub use layer::BreakerLayer;

/// What a breaker makes of a class: [`Class::breaker`] by default.
pub type VerdictFn = fn(Class) -> BreakerVerdict;

/// Guards one call: see the [module docs](self).
pub struct Breaker<S, C> {
    inner: S,
    shared: Arc<Shared>,
    classifier: C,
    verdict: VerdictFn,
    backpressure: bool,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<S: Clone, C: Clone> Clone for Breaker<S, C> {
    fn clone(&self) -> Self {
        Breaker {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            classifier: self.classifier.clone(),
            verdict: self.verdict,
            backpressure: self.backpressure,
            sleep: None,
        }
    }
}

impl<S: std::fmt::Debug, C> std::fmt::Debug for Breaker<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("inner", &self.inner)
            .field("circuit", &self.shared.circuit)
            .finish()
    }
}

impl<S, C> Breaker<S, C> {
    pub(crate) fn new(
        inner: S,
        shared: Arc<Shared>,
        classifier: C,
        verdict: VerdictFn,
        backpressure: bool,
    ) -> Self {
        Breaker {
            inner,
            shared,
            classifier,
            verdict,
            backpressure,
            sleep: None,
        }
    }

    /// A handle on this breaker.
    pub fn handle(&self) -> crate::BreakerHandle {
        crate::BreakerHandle {
            shared: self.shared.clone(),
        }
    }
}

/// Waits, in backpressure mode, until an open breaker lets probes through.
pub(crate) fn poll_open(
    shared: &Shared,
    sleep: &mut Option<Pin<Box<Sleep>>>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    loop {
        let Some(remaining) = shared.circuit.open_remaining(shared.now_ms()) else {
            *sleep = None;
            return Poll::Ready(());
        };
        if remaining.is_zero() {
            *sleep = None;
            return Poll::Ready(());
        }
        let at = Instant::now() + remaining;
        match sleep {
            Some(sleep) => sleep.as_mut().reset(at),
            None => *sleep = Some(Box::pin(tokio::time::sleep_until(at))),
        }
        let sleep = sleep.as_mut().expect("set above");
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
    }
}

/// Admits or refuses one call.
pub(crate) fn admit<F, C: Clone>(
    shared: &Arc<Shared>,
    classifier: &C,
    verdict: VerdictFn,
    call: impl FnOnce() -> F,
) -> ResponseFuture<F, C> {
    match shared.circuit.acquire(|| shared.now_ms()) {
        Err(retry_after) => {
            #[cfg(feature = "metrics")]
            metrics::counter!(
                "breaker_rejections_total",
                "breaker" => shared.key.as_deref().unwrap_or("").to_owned()
            )
            .increment(1);
            ResponseFuture::rejected(Error::from(Rejected::breaker_open(retry_after)))
        }
        Ok(permit) => {
            let start = shared.circuit.config().slow.map(|_| Instant::now());
            ResponseFuture::admitted(
                call(),
                shared.clone(),
                permit,
                classifier.clone(),
                verdict,
                start,
            )
        }
    }
}

impl<S, C, Req> Service<Req> for Breaker<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classifier<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.backpressure && poll_open(&self.shared, &mut self.sleep, cx).is_pending() {
            return Poll::Pending;
        }
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let inner = &mut self.inner;
        admit(&self.shared, &self.classifier, self.verdict, || {
            inner.call(request)
        })
    }
}
