//! The [`Classify`] service: the outermost layer of a stack.
//!
//! Why: every layer of ours returns [`Error`], but the service at the bottom of a
//! stack (a hyper client, a tonic channel) returns its own error type, and a stack
//! of tower layers returns whatever the outermost one chose. `Classify` sits on top
//! and guarantees one error type out, with its class, and records the class of
//! responses that are not errors (a 503 is a response, not an error) in the
//! response extensions, so the caller can read what happened without classifying
//! again.
//!
//! Recording costs nothing on the success path: a success is recorded by the
//! absence of a record (inserting into `http::Extensions` allocates), and
//! [`response_class`] reads it back either way.

use std::task::{Context, Poll};

use tower_service::Service;

use crate::class::Class;
use crate::classify::Classifier;
use crate::error::{BoxError, Error};

mod future;
mod layer;

pub use future::ResponseFuture;
pub use layer::ClassifyLayer;

/// Maps the inner service's errors into [`Error`] with their class, and records the
/// class of responses. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Classify<S, C> {
    inner: S,
    classifier: C,
    record_success: bool,
}

impl<S, C> Classify<S, C> {
    /// Wraps `inner`, classifying with `classifier`.
    pub fn new(inner: S, classifier: C) -> Classify<S, C> {
        Classify {
            inner,
            classifier,
            record_success: false,
        }
    }

    pub(crate) fn recording_success(mut self, record: bool) -> Self {
        self.record_success = record;
        self
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, Req> Service<Req> for Classify<S, C>
where
    S: Service<Req>,
    S::Response: RecordClass,
    S::Error: Into<BoxError>,
    C: Classifier<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|err| classify_into_error(&self.classifier, err))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        ResponseFuture::new(
            self.inner.call(request),
            self.classifier.clone(),
            self.record_success,
        )
    }
}

/// Turns an inner error into [`Error`], classified by `classifier` unless it
/// already is one.
pub(crate) fn classify_into_error<Res, C: Classifier<Res>>(
    classifier: &C,
    err: impl Into<BoxError>,
) -> Error {
    let boxed = err.into();
    if boxed.is::<Error>() {
        return Error::wrap(boxed);
    }
    let class = classifier.classify(Err(&*boxed));
    Error::with_class(class, boxed)
}

/// A response that can carry its [`Class`].
pub trait RecordClass {
    /// Records `class` on the response.
    fn record_class(&mut self, class: Class);
}

impl<B> RecordClass for http::Response<B> {
    fn record_class(&mut self, class: Class) {
        self.extensions_mut().insert(class);
    }
}

/// The class that [`Classify`] recorded on a response: the recorded class, or
/// [`Class::Success`] when none was recorded (a success is not recorded, so that
/// the success path does not allocate).
///
/// ```
/// use http::Response;
/// use tower_error_class::{response_class, Class};
///
/// assert_eq!(response_class(&Response::new(())), Class::Success);
/// ```
pub fn response_class<B>(response: &http::Response<B>) -> Class {
    response
        .extensions()
        .get::<Class>()
        .copied()
        .unwrap_or(Class::Success)
}
