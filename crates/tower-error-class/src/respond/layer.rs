use tower_layer::Layer;

use std::marker::PhantomData;

use super::{ErrorResponse, Grpc, Http};

/// Applies [`ErrorResponse`]: the stack's errors become responses, and the service
/// never fails, as axum and hyper servers require. No `HandleErrorLayer` closure is
/// needed.
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use tower::ServiceBuilder;
/// use tower_error_class::{Error, ErrorResponseLayer, Tier, Elapsed};
///
/// // A route whose middleware can fail (here: it always times out).
/// let failing = tower::service_fn(|_req: axum::extract::Request| async {
///     Err::<axum::response::Response, _>(Error::from(Elapsed::new(Tier::Attempt, Duration::from_secs(1))))
/// });
/// let app: Router = Router::new().route_service(
///     "/slow",
///     ServiceBuilder::new().layer(ErrorResponseLayer::new()).service(failing),
/// );
/// ```
///
/// For a gRPC server, [`ErrorResponseLayer::grpc`] answers with trailers-only
/// responses instead.
#[derive(Debug)]
pub struct ErrorResponseLayer<P = Http> {
    _protocol: PhantomData<fn() -> P>,
}

impl<P> Clone for ErrorResponseLayer<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for ErrorResponseLayer<P> {}

impl Default for ErrorResponseLayer {
    fn default() -> Self {
        ErrorResponseLayer::new()
    }
}

impl ErrorResponseLayer {
    /// A layer that answers errors as HTTP responses ([`Error::to_response`](crate::Error::to_response)).
    pub fn new() -> ErrorResponseLayer {
        ErrorResponseLayer {
            _protocol: PhantomData,
        }
    }

    /// A layer that answers errors as trailers-only gRPC responses
    /// ([`Error::to_grpc_response`](crate::Error::to_grpc_response)), for tonic
    /// and other gRPC servers.
    pub fn grpc() -> ErrorResponseLayer<Grpc> {
        ErrorResponseLayer {
            _protocol: PhantomData,
        }
    }
}

impl<S, P> Layer<S> for ErrorResponseLayer<P> {
    type Service = ErrorResponse<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        ErrorResponse::with_protocol(inner)
    }
}
