//! What is known of a request that decides whether a failure may be retried.

use http::{HeaderName, Method, Request};

/// The `Idempotency-Key` request header (IETF draft
/// `draft-ietf-httpapi-idempotency-key-header`): a request that carries one may be
/// repeated safely whatever its method.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// A request extension that states whether the request is idempotent, overriding
/// what its method and headers say. gRPC calls, which are all `POST`, use it to mark
/// idempotent methods.
///
/// ```
/// use tower_error_class::{is_idempotent, Idempotent};
///
/// let mut req = http::Request::post("/pkg.Service/Get").body(()).unwrap();
/// assert!(!is_idempotent(&req));
/// req.extensions_mut().insert(Idempotent(true));
/// assert!(is_idempotent(&req));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Idempotent(pub bool);

/// Whether `method` is idempotent by RFC 9110 §9.2.2: GET, HEAD, OPTIONS, TRACE,
/// PUT and DELETE.
pub fn is_idempotent_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Whether a request may be repeated after an ambiguous failure: an [`Idempotent`]
/// extension if there is one, else an `Idempotency-Key` header, else its method.
pub fn is_idempotent<B>(request: &Request<B>) -> bool {
    if let Some(Idempotent(idempotent)) = request.extensions().get::<Idempotent>() {
        return *idempotent;
    }
    request.headers().contains_key(IDEMPOTENCY_KEY) || is_idempotent_method(request.method())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9110_idempotent_methods() {
        for method in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            assert!(is_idempotent_method(&method.parse().unwrap()), "{method}");
        }
        for method in ["POST", "PATCH", "CONNECT", "PURGE"] {
            assert!(!is_idempotent_method(&method.parse().unwrap()), "{method}");
        }
    }

    #[test]
    fn idempotency_key_makes_post_idempotent() {
        let req = Request::post("/pay")
            .header("Idempotency-Key", "8e03978e-40d5-43e8-bc93-6894a57f9324")
            .body(())
            .unwrap();
        assert!(is_idempotent(&req));
    }

    #[test]
    fn extension_overrides_method() {
        let mut req = Request::get("/").body(()).unwrap();
        req.extensions_mut().insert(Idempotent(false));
        assert!(!is_idempotent(&req));
    }
}
