//! Classifiers: from a response or an error to a [`Class`].
//!
//! A [`Classifier`] looks at one attempt's outcome, `Ok(&response)` or
//! `Err(&error)`, and names its class. The defaults are a table that users override
//! per HTTP status or per gRPC code ([`HttpClassifier::with_status`],
//! [`GrpcClassifier::with_code`]), or replace with a closure ([`classify_fn`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

use crate::class::{Class, Code, NotSent, Throttle};
use crate::grpc::{self, GrpcCode};

mod trailers;

pub use trailers::ClassifyTrailers;

/// One attempt's outcome, as a classifier sees it.
pub type Outcome<'a, Res> = Result<&'a Res, &'a (dyn StdError + 'static)>;

/// Names the class of one attempt's outcome.
///
/// Implement it, or build one from a closure with [`classify_fn`]. Errors reach a
/// classifier as `&dyn Error`; the usual way to classify them is
/// [`classify_error`](crate::classify_error), which walks the `source()` chain.
pub trait Classifier<Res> {
    /// The class of the outcome.
    fn classify(&self, outcome: Outcome<'_, Res>) -> Class;
}

impl<Res, C: Classifier<Res> + ?Sized> Classifier<Res> for Arc<C> {
    fn classify(&self, outcome: Outcome<'_, Res>) -> Class {
        (**self).classify(outcome)
    }
}

impl<Res, C: Classifier<Res> + ?Sized> Classifier<Res> for &C {
    fn classify(&self, outcome: Outcome<'_, Res>) -> Class {
        (**self).classify(outcome)
    }
}

/// A classifier made from a closure: see [`classify_fn`].
#[derive(Clone, Copy)]
pub struct ClassifyFn<F> {
    f: F,
}

/// Builds a classifier from a closure.
///
/// ```
/// use http::{Response, StatusCode};
/// use tower_error_class::{classify_fn, Class, Classifier, Code, HttpClassifier, Outcome};
///
/// // 409 Conflict is worth retrying for this API; everything else as usual.
/// let http = HttpClassifier::new();
/// let classifier = classify_fn(move |outcome: Outcome<'_, Response<()>>| match outcome {
///     Ok(res) if res.status() == StatusCode::CONFLICT => {
///         Class::ServerError(Code::Http(StatusCode::CONFLICT))
///     }
///     other => http.classify(other),
/// });
/// let conflict = Response::builder().status(409).body(()).unwrap();
/// assert!(classifier.classify(Ok(&conflict)).is_retryable(true));
/// ```
pub fn classify_fn<F>(f: F) -> ClassifyFn<F> {
    ClassifyFn { f }
}

impl<Res, F> Classifier<Res> for ClassifyFn<F>
where
    F: Fn(Outcome<'_, Res>) -> Class,
{
    fn classify(&self, outcome: Outcome<'_, Res>) -> Class {
        (self.f)(outcome)
    }
}

impl<F> fmt::Debug for ClassifyFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClassifyFn")
            .field("f", &std::any::type_name::<F>())
            .finish()
    }
}

/// Overrides of the default table, shared by clones (cloning a classifier per
/// request must not allocate).
#[derive(Clone, Debug, Default)]
struct Overrides(Option<Arc<[(Code, Class)]>>);

impl Overrides {
    fn with(self, code: Code, class: Class) -> Overrides {
        let mut rules: Vec<(Code, Class)> = self
            .0
            .iter()
            .flat_map(|rules| rules.iter().copied())
            .filter(|(existing, _)| *existing != code)
            .collect();
        rules.push((code, class));
        Overrides(Some(rules.into()))
    }

    fn get(&self, code: Code) -> Option<Class> {
        self.0
            .as_deref()?
            .iter()
            .find(|(existing, _)| *existing == code)
            .map(|&(_, class)| class)
    }
}

/// The classifier for plain HTTP responses.
///
/// The default table (after RFC 9110 and Envoy's `retry_on`):
///
/// | status | class |
/// |---|---|
/// | 1xx, 2xx, 3xx | success |
/// | 408 Request Timeout | not sent (the server says it gave up waiting for the request) |
/// | 429 Too Many Requests | throttled, with its `Retry-After` |
/// | 501 Not Implemented | not implemented |
/// | 503 Service Unavailable with `Retry-After` | throttled, with its `Retry-After` |
/// | 500, 502, 503 without `Retry-After`, 504, other 5xx | server error |
/// | other 4xx, 409 included | client error |
///
/// A malformed `Retry-After` is ignored (the throttle has no delay; a 503 with one
/// is a server error). Errors are classified by
/// [`classify_error`](crate::classify_error).
///
/// ```
/// use http::{Response, StatusCode};
/// use tower_error_class::{Class, Classifier, Code, HttpClassifier};
///
/// let classifier = HttpClassifier::new()
///     .with_status(StatusCode::CONFLICT, Class::ServerError(Code::Http(StatusCode::CONFLICT)));
/// let res = Response::builder().status(409).body(()).unwrap();
/// assert_eq!(classifier.classify(Ok(&res)).as_str(), "server_error");
/// ```
#[derive(Clone, Debug, Default)]
pub struct HttpClassifier {
    overrides: Overrides,
}

impl HttpClassifier {
    /// The default table.
    pub fn new() -> HttpClassifier {
        HttpClassifier::default()
    }

    /// Classifies responses with `status` as `class` instead of the default.
    ///
    /// A [`Class::Throttled`] without a delay picks up the response's `Retry-After`.
    pub fn with_status(self, status: StatusCode, class: Class) -> HttpClassifier {
        HttpClassifier {
            overrides: self.overrides.with(Code::Http(status), class),
        }
    }

    /// The class of a response head.
    pub fn classify_head(&self, status: StatusCode, headers: &HeaderMap) -> Class {
        match self.overrides.get(Code::Http(status)) {
            Some(Class::Throttled(throttle)) if throttle.retry_after.is_none() => {
                Class::Throttled(Throttle {
                    retry_after: header_retry_after(headers),
                    ..throttle
                })
            }
            Some(class) => class,
            None => default_http_class(status, headers),
        }
    }
}

impl<B> Classifier<http::Response<B>> for HttpClassifier {
    fn classify(&self, outcome: Outcome<'_, http::Response<B>>) -> Class {
        match outcome {
            Ok(res) => self.classify_head(res.status(), res.headers()),
            Err(err) => crate::classify_error(err),
        }
    }
}

/// The default class of an HTTP response head: the table on [`HttpClassifier`].
pub fn default_http_class(status: StatusCode, headers: &HeaderMap) -> Class {
    let code = Code::Http(status);
    match status.as_u16() {
        100..=399 => Class::Success,
        408 => Class::NotSent(NotSent::RequestTimeout),
        429 => Class::Throttled(Throttle {
            code,
            retry_after: header_retry_after(headers),
        }),
        501 => Class::NotImplemented(code),
        503 => match header_retry_after(headers) {
            Some(retry_after) => Class::Throttled(Throttle {
                code,
                retry_after: Some(retry_after),
            }),
            None => Class::ServerError(code),
        },
        500..=599 => Class::ServerError(code),
        _ => Class::ClientError(code),
    }
}

fn header_retry_after(headers: &HeaderMap) -> Option<Duration> {
    // Reading the clock only matters for an HTTP-date, and only on this path.
    crate::retry_after(headers, SystemTime::now())
        .ok()
        .flatten()
}

/// The classifier for gRPC responses.
///
/// A gRPC status travels in the `grpc-status` header of a trailers-only response,
/// or in the trailers at the end of the body. This classifier reads the header;
/// wrap the response body in [`ClassifyTrailers`] to classify by the trailers at
/// the end of the stream. A response with no `grpc-status` header and HTTP status
/// 200 is classified as success until its trailers say otherwise; another HTTP
/// status is mapped to a code as gRPC's `http-grpc-status-mapping.md` says.
///
/// The default table (after gRPC's retry design, A6, and Envoy's `retry_on`):
///
/// | code | class |
/// |---|---|
/// | `OK` | success |
/// | `CANCELLED` | cancelled |
/// | `DEADLINE_EXCEEDED` | deadline exceeded |
/// | `RESOURCE_EXHAUSTED` | throttled, with `grpc-retry-pushback-ms` |
/// | `UNIMPLEMENTED` | not implemented |
/// | `UNKNOWN`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS` | server error |
/// | `INVALID_ARGUMENT`, `NOT_FOUND`, `ALREADY_EXISTS`, `PERMISSION_DENIED`, `FAILED_PRECONDITION`, `ABORTED`, `OUT_OF_RANGE`, `UNAUTHENTICATED` | client error |
///
/// ```
/// use http::Response;
/// use tower_error_class::{Class, Classifier, GrpcClassifier, GrpcCode};
///
/// let classifier = GrpcClassifier::new().with_code(GrpcCode::Aborted, Class::Cancelled);
/// let res = Response::builder().header("grpc-status", "10").body(()).unwrap();
/// assert_eq!(classifier.classify(Ok(&res)), Class::Cancelled);
/// ```
#[derive(Clone, Debug, Default)]
pub struct GrpcClassifier {
    overrides: Overrides,
}

impl GrpcClassifier {
    /// The default table.
    pub fn new() -> GrpcClassifier {
        GrpcClassifier::default()
    }

    /// Classifies `code` as `class` instead of the default.
    pub fn with_code(self, code: GrpcCode, class: Class) -> GrpcClassifier {
        GrpcClassifier {
            overrides: self.overrides.with(Code::Grpc(code), class),
        }
    }

    /// The class of a gRPC status code, with the headers or trailers that came with
    /// it (for `grpc-retry-pushback-ms`).
    pub fn classify_code(&self, code: GrpcCode, metadata: &HeaderMap) -> Class {
        self.overrides
            .get(Code::Grpc(code))
            .unwrap_or_else(|| default_grpc_class(code, metadata))
    }

    /// The class of a response head: its `grpc-status` if it has one, else its HTTP
    /// status.
    pub fn classify_head(&self, status: StatusCode, headers: &HeaderMap) -> Class {
        match headers.get(grpc::GRPC_STATUS) {
            Some(value) => {
                // A malformed status is a broken response, as gRPC clients treat it.
                let code = grpc::parse_grpc_status(value.as_bytes()).unwrap_or(GrpcCode::Unknown);
                self.classify_code(code, headers)
            }
            None if status == StatusCode::OK => Class::Success,
            None => self.classify_code(GrpcCode::from_http_status(status), headers),
        }
    }

    /// The class of a stream's trailers. Trailers without `grpc-status` are a broken
    /// response (`UNKNOWN`).
    pub fn classify_trailers(&self, trailers: &HeaderMap) -> Class {
        let code = trailers
            .get(grpc::GRPC_STATUS)
            .and_then(|value| grpc::parse_grpc_status(value.as_bytes()).ok())
            .unwrap_or(GrpcCode::Unknown);
        self.classify_code(code, trailers)
    }
}

impl<B> Classifier<http::Response<B>> for GrpcClassifier {
    fn classify(&self, outcome: Outcome<'_, http::Response<B>>) -> Class {
        match outcome {
            Ok(res) => self.classify_head(res.status(), res.headers()),
            Err(err) => crate::classify_error(err),
        }
    }
}

/// The default class of a gRPC code: the table on [`GrpcClassifier`].
/// `RESOURCE_EXHAUSTED` picks up `grpc-retry-pushback-ms` from `metadata` (a
/// negative pushback, "do not retry", is left to the retry layer to read).
pub fn default_grpc_class(code: GrpcCode, metadata: &HeaderMap) -> Class {
    let as_code = Code::Grpc(code);
    match code {
        GrpcCode::Ok => Class::Success,
        GrpcCode::Cancelled => Class::Cancelled,
        GrpcCode::DeadlineExceeded => Class::DeadlineExceeded,
        GrpcCode::ResourceExhausted => Class::Throttled(Throttle {
            code: as_code,
            retry_after: metadata
                .get(grpc::GRPC_RETRY_PUSHBACK_MS)
                .and_then(|value| grpc::parse_retry_pushback(value.as_bytes()).ok())
                .flatten(),
        }),
        GrpcCode::Unimplemented => Class::NotImplemented(as_code),
        GrpcCode::Unknown | GrpcCode::Internal | GrpcCode::Unavailable | GrpcCode::DataLoss => {
            Class::ServerError(as_code)
        }
        GrpcCode::InvalidArgument
        | GrpcCode::NotFound
        | GrpcCode::AlreadyExists
        | GrpcCode::PermissionDenied
        | GrpcCode::FailedPrecondition
        | GrpcCode::Aborted
        | GrpcCode::OutOfRange
        | GrpcCode::Unauthenticated => Class::ClientError(as_code),
    }
}

/// The classifier for services whose errors are the only failures (non-HTTP
/// services): every response is a success, and errors are classified by
/// [`classify_error`](crate::classify_error).
#[derive(Clone, Copy, Debug, Default)]
pub struct ErrorClassifier;

impl<Res> Classifier<Res> for ErrorClassifier {
    fn classify(&self, outcome: Outcome<'_, Res>) -> Class {
        match outcome {
            Ok(_) => Class::Success,
            Err(err) => crate::classify_error(err),
        }
    }
}
