use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower_error_class::{BoxError, BreakerVerdict, Classifier, Error};

use super::VerdictFn;
use crate::circuit::{Permit, Verdict};
use crate::shared::Shared;

/// A call's permit: reports the outcome, or gives a probe slot back if the call
/// ends without one (its future dropped).
struct Guard {
    shared: Arc<Shared>,
    permit: Permit,
    settled: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.settled {
            self.shared.circuit.release(self.permit);
        }
    }
}

pin_project! {
    /// The response future of [`Breaker`](super::Breaker).
    pub struct ResponseFuture<F, C> {
        #[pin]
        kind: Kind<F>,
        guard: Option<Guard>,
        classifier: Option<C>,
        verdict: Option<VerdictFn>,
        start: Option<Instant>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Called { #[pin] future: F },
        Rejected { error: Option<Error> },
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn admitted(
        future: F,
        shared: Arc<Shared>,
        permit: Permit,
        classifier: C,
        verdict: VerdictFn,
        start: Option<Instant>,
    ) -> Self {
        ResponseFuture {
            kind: Kind::Called { future },
            guard: Some(Guard {
                shared,
                permit,
                settled: false,
            }),
            classifier: Some(classifier),
            verdict: Some(verdict),
            start,
        }
    }

    /// A call that no breaker guards (a request without a key).
    pub(crate) fn unguarded(future: F, classifier: C) -> Self {
        ResponseFuture {
            kind: Kind::Called { future },
            guard: None,
            classifier: Some(classifier),
            verdict: None,
            start: None,
        }
    }

    pub(crate) fn rejected(error: Error) -> Self {
        ResponseFuture {
            kind: Kind::Rejected { error: Some(error) },
            guard: None,
            classifier: None,
            verdict: None,
            start: None,
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classifier<T>,
{
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let future = match this.kind.project() {
            KindProj::Rejected { error } => {
                return Poll::Ready(Err(error.take().expect("polled after completion")));
            }
            KindProj::Called { future } => future,
        };
        let result = ready!(future.poll(cx)).map_err(Into::<BoxError>::into);
        let classifier = this.classifier.take().expect("polled after completion");
        let class = match &result {
            Ok(response) => classifier.classify(Ok(response)),
            Err(err) => classifier.classify(Err(&**err)),
        };
        if let Some(mut guard) = this.guard.take() {
            let shared = &guard.shared;
            let slow = match (this.start, shared.circuit.config().slow) {
                (Some(start), Some(slow)) => start.elapsed() > slow.threshold,
                _ => false,
            };
            let verdict = match (this.verdict.expect("set with the guard"))(class) {
                BreakerVerdict::Success => Verdict::Success { slow },
                BreakerVerdict::Failure => Verdict::Failure { slow },
                BreakerVerdict::Ignore => Verdict::Ignore,
            };
            shared
                .circuit
                .record(guard.permit, verdict, || shared.now_ms());
            guard.settled = true;
        }
        Poll::Ready(result.map_err(|err| Error::with_class(class, err)))
    }
}
