//! Conversions between our errors and `tonic::Status` (the `tonic` feature).
//!
//! A timeout of ours becomes `DEADLINE_EXCEEDED`, never `CANCELLED` (which is what a
//! bare `BoxError` becomes through `Status::from_error`); an open breaker or a
//! transport failure becomes `UNAVAILABLE`, which gRPC clients know to retry
//! elsewhere or later.

use tonic::metadata::MetadataValue;

use crate::class::Class;
use crate::classify::GrpcClassifier;
use crate::error::{BoxError, Error};
use crate::grpc::{GRPC_RETRY_PUSHBACK_MS, GrpcCode};

/// The class of a `tonic::Status`, by the default table of
/// [`GrpcClassifier`](crate::GrpcClassifier) (with `grpc-retry-pushback-ms` read
/// from its metadata).
pub fn classify_status(status: &tonic::Status) -> Class {
    GrpcClassifier::new().classify_code(
        GrpcCode::from_i32(status.code() as i32),
        status.metadata().as_ref(),
    )
}

impl Error {
    /// The `tonic::Status` that stands for this error. A wait that the error knows
    /// (an open breaker's, a throttle's) travels as `grpc-retry-pushback-ms`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_error_class::{Elapsed, Error, Tier};
    ///
    /// let status = Error::from(Elapsed::new(Tier::Attempt, Duration::from_secs(1))).to_status();
    /// assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    /// ```
    pub fn to_status(&self) -> tonic::Status {
        let mut status = tonic::Status::new(
            tonic::Code::from_i32(self.grpc_code().as_i32()),
            self.to_string(),
        );
        if let Some(wait) = self.class().retry_after() {
            let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            status
                .metadata_mut()
                .insert(GRPC_RETRY_PUSHBACK_MS, MetadataValue::from(millis));
        }
        status
    }
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> tonic::Status {
        err.to_status()
    }
}

/// Turns a client stack's errors into `tonic::Status` before tonic sees them.
///
/// Why: a tonic client turns the error of the service it runs on into a status
/// with `Status::from_error`, which finds a `Status` in the error chain or gives
/// `UNKNOWN` (and `CANCELLED` for its own timeouts). Put this layer outermost on a
/// stack around a `Channel`, and a timeout of ours reaches the caller as
/// `DEADLINE_EXCEEDED`, an open breaker as `UNAVAILABLE`.
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_error_class::StatusLayer;
///
/// # fn stack<S>(channel: S) -> tower_error_class::StatusService<S> {
/// let svc = ServiceBuilder::new()
///     .layer(StatusLayer::new())
///     // .layer(DeadlineLayer::new(..)) and the rest of the stack
///     .service(channel);
/// # svc
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct StatusLayer {
    _priv: (),
}

impl StatusLayer {
    /// A new layer.
    pub fn new() -> StatusLayer {
        StatusLayer { _priv: () }
    }
}

impl<S> tower_layer::Layer<S> for StatusLayer {
    type Service = StatusService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StatusService { inner }
    }
}

/// A service whose errors are `tonic::Status`: see [`StatusLayer`].
#[derive(Clone, Debug)]
pub struct StatusService<S> {
    inner: S,
}

impl<S, Req> tower_service::Service<Req> for StatusService<S>
where
    S: tower_service::Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = tonic::Status;
    type Future = StatusFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(to_status)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        StatusFuture {
            inner: self.inner.call(request),
        }
    }
}

fn to_status(err: impl Into<BoxError>) -> tonic::Status {
    let boxed = err.into();
    match boxed.downcast::<tonic::Status>() {
        Ok(status) => *status,
        Err(other) => Error::wrap(other).to_status(),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`StatusService`].
    #[derive(Debug)]
    pub struct StatusFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F, T, E> std::future::Future for StatusFuture<F>
where
    F: std::future::Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, tonic::Status>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.project().inner.poll(cx).map_err(to_status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Code, Elapsed, Rejected, Tier};
    use std::time::Duration;

    #[test]
    fn timeouts_become_deadline_exceeded_never_cancelled() {
        for tier in [
            Tier::Attempt,
            Tier::ResponseHeaders,
            Tier::Total,
            Tier::Connect,
        ] {
            let status = Error::from(Elapsed::new(tier, Duration::from_secs(1))).to_status();
            assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{tier:?}");
        }
    }

    #[test]
    fn open_breaker_becomes_unavailable_with_pushback() {
        let status = Error::from(Rejected::breaker_open(Duration::from_millis(2500))).to_status();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(
            status.metadata().get(GRPC_RETRY_PUSHBACK_MS).unwrap(),
            "2500"
        );
    }

    #[test]
    fn statuses_classify_by_code() {
        assert_eq!(
            classify_status(&tonic::Status::unavailable("down")),
            Class::ServerError(Code::Grpc(GrpcCode::Unavailable))
        );
        assert_eq!(
            classify_status(&tonic::Status::deadline_exceeded("late")),
            Class::DeadlineExceeded
        );
    }
}
