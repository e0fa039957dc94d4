use tower_layer::Layer;

use super::ErrorResponse;

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
#[derive(Clone, Copy, Debug, Default)]
pub struct ErrorResponseLayer {
    _priv: (),
}

impl ErrorResponseLayer {
    /// A new layer.
    pub fn new() -> ErrorResponseLayer {
        ErrorResponseLayer { _priv: () }
    }
}

impl<S> Layer<S> for ErrorResponseLayer {
    type Service = ErrorResponse<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ErrorResponse::new(inner)
    }
}
