use tower_layer::Layer;

use super::Classify;
use crate::classify::{ErrorClassifier, GrpcClassifier, HttpClassifier};

/// Applies [`Classify`] to a service: one error type out, response classes recorded.
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_error_class::ClassifyLayer;
///
/// # let client = tower::service_fn(|_req: http::Request<()>| async {
/// #     Ok::<_, std::io::Error>(http::Response::new(()))
/// # });
/// let svc = ServiceBuilder::new()
///     .layer(ClassifyLayer::http())
///     .service(client);
/// ```
#[derive(Clone, Debug)]
pub struct ClassifyLayer<C> {
    classifier: C,
    record_success: bool,
}

impl<C> ClassifyLayer<C> {
    /// A layer that classifies with `classifier`.
    pub fn new(classifier: C) -> ClassifyLayer<C> {
        ClassifyLayer {
            classifier,
            record_success: false,
        }
    }

    /// Records [`Class::Success`](crate::Class::Success) in the extensions of
    /// successful responses too, at the cost of an allocation per response. By
    /// default a success is recorded by the absence of a record; read either with
    /// [`response_class`](crate::response_class).
    pub fn record_success(mut self, record: bool) -> ClassifyLayer<C> {
        self.record_success = record;
        self
    }
}

impl ClassifyLayer<HttpClassifier> {
    /// A layer with the default [`HttpClassifier`].
    pub fn http() -> ClassifyLayer<HttpClassifier> {
        ClassifyLayer::new(HttpClassifier::new())
    }
}

impl ClassifyLayer<GrpcClassifier> {
    /// A layer with the default [`GrpcClassifier`] (response heads only; see
    /// [`ClassifyTrailers`](crate::ClassifyTrailers) for trailers).
    pub fn grpc() -> ClassifyLayer<GrpcClassifier> {
        ClassifyLayer::new(GrpcClassifier::new())
    }
}

impl ClassifyLayer<ErrorClassifier> {
    /// A layer for non-HTTP services, whose failures are their errors.
    pub fn errors() -> ClassifyLayer<ErrorClassifier> {
        ClassifyLayer::new(ErrorClassifier)
    }
}

impl<S, C: Clone> Layer<S> for ClassifyLayer<C> {
    type Service = Classify<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Classify::new(inner, self.classifier.clone()).recording_success(self.record_success)
    }
}
