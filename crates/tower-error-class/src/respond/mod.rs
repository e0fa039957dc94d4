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

use std::convert::Infallible;
use std::fmt::Write as _;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{StatusCode, response};
use tower_service::Service;

use crate::class::{Class, Rejection};
use crate::error::{BoxError, Error};

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
pub struct ErrorResponse<S> {
    inner: S,
    not_ready: Option<Error>,
}

impl<S: Clone> Clone for ErrorResponse<S> {
    fn clone(&self) -> Self {
        ErrorResponse::new(self.inner.clone())
    }
}

impl<S> ErrorResponse<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> ErrorResponse<S> {
        ErrorResponse {
            inner,
            not_ready: None,
        }
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req, B> Service<Req> for ErrorResponse<S>
where
    S: Service<Req, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: From<String>,
{
    type Response = http::Response<B>;
    type Error = Infallible;
    type Future = ErrorResponseFuture<S::Future, B>;

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
            Some(err) => ErrorResponseFuture::ready(err.to_response()),
            None => ErrorResponseFuture::new(self.inner.call(request)),
        }
    }
}
