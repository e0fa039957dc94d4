//! Errors as HTTP responses: [`Error::to_response`] and the [`ErrorResponse`]
//! service.
//!
//! Why: axum routers and hyper servers need services that never fail, so a stack of
//! fallible middleware normally ends in a hand-written `HandleErrorLayer` closure
//! that guesses at a `BoxError`. Every error of ours knows its class, so the
//! response follows from it:
//!
//! | class | status |
//! |---|---|
//! | deadline exceeded, any timeout | 504 Gateway Timeout |
//! | rejected: breaker open | 503 Service Unavailable, `Retry-After` until it half-opens |
//! | rejected: budget exhausted | 503 Service Unavailable, `Retry-After: 1` |
//! | rejected: load shed; throttled upstream | 503 Service Unavailable (`Retry-After` if known) |
//! | not sent, transport, server error | 502 Bad Gateway |
//! | anything else | 500 Internal Server Error |
//!
//! The body is a small JSON object: `{"class":"timeout","message":"attempt timeout"}`.
//! It names the class and says what happened in our words; the source chain, which
//! may name internal hosts, stays in logs.
//!
//! gRPC servers (tonic among them) answer errors differently: HTTP 200 with a
//! trailers-only response whose `grpc-status` says what happened
//! ([`Error::to_grpc_response`], [`ErrorResponseLayer::grpc`]). A timeout is
//! `DEADLINE_EXCEEDED`, never the `UNKNOWN` that tonic makes of a foreign error.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{StatusCode, response};
use tower_service::Service;

use crate::class::{Class, Code, Rejection};
use crate::error::{BoxError, Error};
use crate::grpc::{self, GrpcCode};

mod future;
mod layer;

pub use future::ErrorResponseFuture;
pub use layer::ErrorResponseLayer;

impl Error {
    /// The HTTP status that stands for this error: see the [module docs](crate::respond).
    pub fn http_status(&self) -> StatusCode {
        let class = self.class();
        match class {
            _ if class.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
            Class::Rejected(_) | Class::Throttled(_) => StatusCode::SERVICE_UNAVAILABLE,
            Class::NotSent(_) | Class::Transport(_) | Class::ServerError(_) => {
                StatusCode::BAD_GATEWAY
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `Retry-After` this error's response carries, in whole seconds rounded up,
    /// if it carries one.
    pub fn http_retry_after(&self) -> Option<u64> {
        let wait = match self.class() {
            Class::Rejected(Rejection::BudgetExhausted) => Duration::from_secs(1),
            class => class.retry_after()?,
        };
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Some(secs)
    }

    /// The response head that stands for this error: status, `Retry-After` and a JSON
    /// content type.
    pub fn to_response_parts(&self) -> response::Parts {
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = self.http_status();
        parts
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(secs) = self.http_retry_after() {
            parts.headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        parts
    }

    /// The JSON body of this error's response.
    pub fn to_json(&self) -> String {
        let mut json = String::with_capacity(64);
        json.push_str("{\"class\":\"");
        json.push_str(self.class().as_str());
        json.push_str("\",\"message\":\"");
        push_json_escaped(&mut json, &self.to_string());
        json.push('"');
        if let Some(secs) = self.http_retry_after() {
            let _ = write!(json, ",\"retry_after_secs\":{secs}");
        }
        json.push('}');
        json
    }

    /// The whole response that stands for this error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_error_class::{Error, Rejected};
    ///
    /// let err = Error::from(Rejected::breaker_open(Duration::from_millis(1500)));
    /// let res: http::Response<String> = err.to_response();
    /// assert_eq!(res.status(), 503);
    /// assert_eq!(res.headers()["retry-after"], "2");
    /// assert!(res.body().starts_with(r#"{"class":"rejected""#));
    /// ```
    pub fn to_response<B: From<String>>(&self) -> http::Response<B> {
        http::Response::from_parts(self.to_response_parts(), B::from(self.to_json()))
    }

    /// The gRPC code that stands for this error: a timeout is `DEADLINE_EXCEEDED`,
    /// an open breaker or a transport failure `UNAVAILABLE`, a spent budget or a
    /// throttle `RESOURCE_EXHAUSTED`, an upstream's own code stays itself.
    pub fn grpc_code(&self) -> GrpcCode {
        let class = self.class();
        match class {
            _ if class.is_timeout() => GrpcCode::DeadlineExceeded,
            Class::Cancelled => GrpcCode::Cancelled,
            Class::Rejected(Rejection::BudgetExhausted) | Class::Throttled(_) => {
                GrpcCode::ResourceExhausted
            }
            Class::Rejected(_) | Class::NotSent(_) | Class::Transport(_) => GrpcCode::Unavailable,
            Class::ServerError(Code::Grpc(code))
            | Class::ClientError(Code::Grpc(code))
            | Class::NotImplemented(Code::Grpc(code)) => code,
            Class::ServerError(Code::Http(status)) | Class::ClientError(Code::Http(status)) => {
                GrpcCode::from_http_status(status)
            }
            Class::NotImplemented(Code::Http(_)) => GrpcCode::Unimplemented,
            _ => GrpcCode::Unknown,
        }
    }

    /// The trailers-only gRPC response that stands for this error: HTTP 200,
    /// `content-type: application/grpc`, `grpc-status`, a percent-encoded
    /// `grpc-message`, and `grpc-retry-pushback-ms` when the error knows a wait.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_error_class::{Elapsed, Error, Tier};
    ///
    /// let err = Error::from(Elapsed::new(Tier::Total, Duration::from_millis(300)));
    /// let res: http::Response<()> = err.to_grpc_response();
    /// assert_eq!(res.status(), 200);
    /// assert_eq!(res.headers()["grpc-status"], "4");
    /// assert_eq!(res.headers()["grpc-message"], "deadline exceeded");
    /// ```
    pub fn to_grpc_response<B: Default>(&self) -> http::Response<B> {
        let mut response = http::Response::new(B::default());
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(
            grpc::GRPC_STATUS,
            HeaderValue::from(self.grpc_code().as_i32()),
        );
        if let Ok(message) = HeaderValue::try_from(grpc::encode_grpc_message(&self.to_string())) {
            headers.insert(grpc::GRPC_MESSAGE, message);
        }
        if let Some(wait) = self.class().retry_after() {
            let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            headers.insert(grpc::GRPC_RETRY_PUSHBACK_MS, HeaderValue::from(millis));
        }
        response
    }
}

/// How an error becomes a response body of type `B`: [`Http`] (a status and a JSON
/// body, [`Error::to_response`]) or [`Grpc`] (trailers-only,
/// [`Error::to_grpc_response`]).
pub trait Respond<B> {
    /// The response that stands for `err`.
    fn respond(err: &Error) -> http::Response<B>;
}

/// Errors as HTTP responses: see [`Error::to_response`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Http;

/// Errors as trailers-only gRPC responses: see [`Error::to_grpc_response`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Grpc;

impl<B: From<String>> Respond<B> for Http {
    fn respond(err: &Error) -> http::Response<B> {
        err.to_response()
    }
}

impl<B: Default> Respond<B> for Grpc {
    fn respond(err: &Error) -> http::Response<B> {
        err.to_grpc_response()
    }
}

fn push_json_escaped(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ch if ch.is_control() => {
                let _ = write!(out, "\\u{:04x}", ch as u32);
            }
            ch => out.push(ch),
        }
    }
}

/// Turns the inner service's errors into responses, so the service never fails.
/// See the [module docs](crate::respond) and [`ErrorResponseLayer`].
///
/// A readiness error of the inner service is kept and answered as the response to
/// the next call, which then does not reach the inner service.
#[derive(Debug)]
pub struct ErrorResponse<S, P = Http> {
    inner: S,
    not_ready: Option<Error>,
    _protocol: PhantomData<fn() -> P>,
}

impl<S: Clone, P> Clone for ErrorResponse<S, P> {
    fn clone(&self) -> Self {
        ErrorResponse::with_protocol(self.inner.clone())
    }
}

impl<S> ErrorResponse<S> {
    /// Wraps `inner`, answering errors as HTTP responses.
    pub fn new(inner: S) -> ErrorResponse<S> {
        ErrorResponse::with_protocol(inner)
    }
}

impl<S, P> ErrorResponse<S, P> {
    /// Wraps `inner`, answering errors as `P` says ([`Http`] or [`Grpc`]).
    pub fn with_protocol(inner: S) -> ErrorResponse<S, P> {
        ErrorResponse {
            inner,
            not_ready: None,
            _protocol: PhantomData,
        }
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, P, Req, B> Service<Req> for ErrorResponse<S, P>
where
    S: Service<Req, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    P: Respond<B>,
{
    type Response = http::Response<B>;
    type Error = Infallible;
    type Future = ErrorResponseFuture<S::Future, B, P>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.not_ready.is_some() {
            return Poll::Ready(Ok(()));
        }
        match self.inner.poll_ready(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(err)) => {
                self.not_ready = Some(Error::wrap(err));
                Poll::Ready(Ok(()))
            }
        }
    }

    fn call(&mut self, request: Req) -> Self::Future {
        match self.not_ready.take() {
            Some(err) => ErrorResponseFuture::ready(P::respond(&err)),
            None => ErrorResponseFuture::new(self.inner.call(request)),
        }
    }
}
