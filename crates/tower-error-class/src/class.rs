//! The classes of outcome and the verdicts that follow from them.
//!
//! A [`Class`] names what one attempt's outcome *was*. It is computed once, by a
//! [`Classifier`](crate::Classifier), and read by every layer that has to decide
//! something: the retry layer asks [`Class::is_retryable`], the breaker asks
//! [`Class::breaker`], metrics and logs use [`Class::as_str`]. The class is `Copy`
//! and sixteen bytes: passing it around costs nothing.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::grpc::GrpcCode;

/// What one attempt's outcome was.
///
/// The defaults that map responses and errors to classes are documented on
/// [`HttpClassifier`](crate::HttpClassifier), [`GrpcClassifier`](crate::GrpcClassifier)
/// and [`classify_error`](crate::classify_error). The verdicts that follow from each
/// class (may it be retried, does it count against a breaker) are on
/// [`Class::verdict`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Class {
    /// The call succeeded: 1xx, 2xx, 3xx, or gRPC `OK`.
    Success,
    /// The request provably never reached the server's application: the connection
    /// could not be made, or the server refused the stream before reading it.
    NotSent(NotSent),
    /// The connection failed after the request may have been written (reset, EOF,
    /// broken pipe). The server may or may not have acted on it.
    Transport(Transport),
    /// A timeout of one attempt fired: the response headers or the whole attempt took
    /// too long, or the response body stalled.
    Timeout(Tier),
    /// The caller's total time budget is spent. Retrying cannot help.
    DeadlineExceeded,
    /// The caller went away (the call was cancelled or the future dropped).
    Cancelled,
    /// The server asked us to slow down: 429, 503 with `Retry-After`, or gRPC
    /// `RESOURCE_EXHAUSTED`.
    Throttled(Throttle),
    /// The server failed: 500, 502, 503, 504, gRPC `INTERNAL`, `UNAVAILABLE`, ...
    ServerError(Code),
    /// The server does not implement what was asked: 501 or gRPC `UNIMPLEMENTED`.
    NotImplemented(Code),
    /// The request was wrong: other 4xx, gRPC `INVALID_ARGUMENT`, `NOT_FOUND`, ...
    ClientError(Code),
    /// A layer of ours refused the call without sending it.
    Rejected(Rejection),
}

/// How the request is known not to have been sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotSent {
    /// The peer refused the TCP connection (`ECONNREFUSED`).
    ConnectRefused,
    /// The connect (TCP or TLS handshake) timed out.
    ConnectTimeout,
    /// Any other failure while connecting (DNS, TLS, unreachable network).
    Connect,
    /// HTTP/2 `REFUSED_STREAM`: the server did not process the stream (RFC 9113 §8.7).
    RefusedStream,
    /// HTTP/2 `GOAWAY` whose last stream id is below ours (RFC 9113 §6.8).
    GoAway,
    /// The connection was closed before the request could be written on it (hyper's
    /// "canceled": a pooled connection that the server had just closed).
    ConnectionClosed,
    /// 408 Request Timeout: the server gave up waiting for the request and says so
    /// (RFC 9110 §15.5.9: the client may repeat it).
    RequestTimeout,
}

impl NotSent {
    /// Whether this failure happened while connecting, which tells about the
    /// upstream's health (and so counts against a breaker).
    pub const fn is_connect(self) -> bool {
        matches!(
            self,
            NotSent::ConnectRefused | NotSent::ConnectTimeout | NotSent::Connect
        )
    }
}

/// How the connection failed after the request may have been sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// The peer reset the connection or the stream.
    Reset,
    /// The connection was aborted.
    Aborted,
    /// Writing to the connection failed: the peer had closed it.
    BrokenPipe,
    /// The connection ended before the whole response arrived.
    Incomplete,
    /// A socket-level timeout that is not one of ours.
    TimedOut,
    /// The peer spoke the protocol wrongly.
    Protocol,
    /// Any other transport failure.
    Other,
}

/// A timeout tier: which of the timeouts elapsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tier {
    /// Establishing the connection (TCP connect and TLS handshake).
    Connect,
    /// From the call until the response head arrived (time to first byte).
    ResponseHeaders,
    /// One attempt, from the call until the response.
    Attempt,
    /// The total deadline of the call, across all attempts and backoff sleeps.
    Total,
    /// No frame of the response body arrived for too long.
    BodyIdle,
    /// The whole response body was not read in time.
    BodyTotal,
}

impl Tier {
    /// A short, stable, snake_case name, fit for a metrics label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Connect => "connect",
            Tier::ResponseHeaders => "response_headers",
            Tier::Attempt => "attempt",
            Tier::Total => "total",
            Tier::BodyIdle => "body_idle",
            Tier::BodyTotal => "body_total",
        }
    }

    /// The class of an outcome in which this tier's timeout elapsed.
    ///
    /// A connect timeout means the request was never sent; the total deadline is
    /// [`Class::DeadlineExceeded`]; the other tiers are [`Class::Timeout`].
    pub const fn class(self) -> Class {
        match self {
            Tier::Connect => Class::NotSent(NotSent::ConnectTimeout),
            Tier::Total => Class::DeadlineExceeded,
            tier => Class::Timeout(tier),
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tier::Connect => "connect",
            Tier::ResponseHeaders => "response headers",
            Tier::Attempt => "attempt",
            Tier::Total => "total deadline",
            Tier::BodyIdle => "body idle",
            Tier::BodyTotal => "body total",
        })
    }
}

/// A throttling signal from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Throttle {
    /// The status or gRPC code that carried the signal.
    pub code: Code,
    /// How long the server asked us to wait (`Retry-After`, `grpc-retry-pushback-ms`),
    /// if it said.
    pub retry_after: Option<Duration>,
}

/// The status that a server answered with: an HTTP status or a gRPC code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// An HTTP status code.
    Http(StatusCode),
    /// A gRPC status code.
    Grpc(GrpcCode),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Http(status) => write!(f, "HTTP {}", status.as_u16()),
            Code::Grpc(code) => write!(f, "gRPC {}", code.as_str()),
        }
    }
}

/// Why a layer of ours refused a call without sending it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejection {
    /// A circuit breaker is open; it half-opens after `retry_after`.
    BreakerOpen {
        /// The time left until the breaker lets a probe through.
        retry_after: Duration,
    },
    /// The retry budget is spent.
    BudgetExhausted,
    /// A load shedder refused the call.
    LoadShed,
}

impl Rejection {
    /// How long the caller should wait before trying again, if that is known.
    pub const fn retry_after(self) -> Option<Duration> {
        match self {
            Rejection::BreakerOpen { retry_after } => Some(retry_after),
            Rejection::BudgetExhausted | Rejection::LoadShed => None,
        }
    }

    /// A short, stable, snake_case name, fit for a metrics label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Rejection::BreakerOpen { .. } => "breaker_open",
            Rejection::BudgetExhausted => "budget_exhausted",
            Rejection::LoadShed => "load_shed",
        }
    }
}

/// What a circuit breaker makes of an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerVerdict {
    /// The upstream answered properly: counts as a success.
    Success,
    /// The upstream is unhealthy: counts as a failure.
    Failure,
    /// Says nothing about the upstream (the caller left, a layer of ours refused, the
    /// deadline was spent, the server throttled us): not counted at all.
    Ignore,
}

/// The verdicts that follow from a class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Verdict {
    /// The attempt may be retried if the request is idempotent.
    pub retry_idempotent: bool,
    /// The attempt may be retried whatever the request (it was provably not acted on).
    pub retry_any: bool,
    /// What a breaker makes of it.
    pub breaker: BreakerVerdict,
}

impl Class {
    /// The verdicts that follow from this class, following the table in the crate
    /// documentation (Envoy's `retry_on`, gRPC's retry design, RFC 9110 and RFC 9113).
    pub const fn verdict(self) -> Verdict {
        use BreakerVerdict::{Failure, Ignore, Success};
        let (retry_idempotent, retry_any, breaker) = match self {
            Class::Success => (false, false, Success),
            Class::NotSent(cause) => (
                true,
                true,
                if cause.is_connect() { Failure } else { Ignore },
            ),
            Class::Transport(_) => (true, false, Failure),
            // Once the body has started, the response is the caller's: an attempt
            // cannot be made again underneath it.
            Class::Timeout(Tier::BodyIdle | Tier::BodyTotal) => (false, false, Failure),
            Class::Timeout(_) => (true, false, Failure),
            Class::DeadlineExceeded => (false, false, Ignore),
            Class::Cancelled => (false, false, Ignore),
            Class::Throttled(_) => (true, true, Ignore),
            Class::ServerError(_) => (true, false, Failure),
            Class::NotImplemented(_) => (false, false, Success),
            Class::ClientError(_) => (false, false, Success),
            Class::Rejected(_) => (false, false, Ignore),
        };
        Verdict {
            retry_idempotent,
            retry_any,
            breaker,
        }
    }

    /// Whether an attempt with this outcome may be tried again, for a request that is
    /// (or is not) idempotent.
    pub const fn is_retryable(self, idempotent: bool) -> bool {
        let verdict = self.verdict();
        verdict.retry_any || (idempotent && verdict.retry_idempotent)
    }

    /// What a circuit breaker makes of this outcome.
    pub const fn breaker(self) -> BreakerVerdict {
        self.verdict().breaker
    }

    /// Whether this outcome is a success.
    pub const fn is_success(self) -> bool {
        matches!(self, Class::Success)
    }

    /// Whether one of our timeouts elapsed (any tier, the total deadline included).
    pub const fn is_timeout(self) -> bool {
        self.timeout_tier().is_some()
    }

    /// The tier of the timeout that elapsed, if one did.
    ///
    /// [`Class::DeadlineExceeded`] gives [`Tier::Total`], and a connect timeout gives
    /// [`Tier::Connect`].
    pub const fn timeout_tier(self) -> Option<Tier> {
        match self {
            Class::Timeout(tier) => Some(tier),
            Class::DeadlineExceeded => Some(Tier::Total),
            Class::NotSent(NotSent::ConnectTimeout) => Some(Tier::Connect),
            _ => None,
        }
    }

    /// Whether a layer of ours refused the call (breaker open, budget spent, load
    /// shed).
    pub const fn is_rejected(self) -> bool {
        matches!(self, Class::Rejected(_))
    }

    /// Whether the failure came from upstream: the server answered with an error, or
    /// the connection to it failed. Timeouts, cancellations and local rejections are
    /// not upstream failures.
    pub const fn is_upstream_failure(self) -> bool {
        matches!(
            self,
            Class::NotSent(_)
                | Class::Transport(_)
                | Class::Throttled(_)
                | Class::ServerError(_)
                | Class::NotImplemented(_)
                | Class::ClientError(_)
        )
    }

    /// How long the caller should wait before trying again, if the outcome says:
    /// a throttle's `Retry-After` or an open breaker's time to half-open.
    pub const fn retry_after(self) -> Option<Duration> {
        match self {
            Class::Throttled(throttle) => throttle.retry_after,
            Class::Rejected(rejection) => rejection.retry_after(),
            _ => None,
        }
    }

    /// The status code or gRPC code the server answered with, if it answered.
    pub const fn code(self) -> Option<Code> {
        match self {
            Class::ServerError(code) | Class::NotImplemented(code) | Class::ClientError(code) => {
                Some(code)
            }
            Class::Throttled(throttle) => Some(throttle.code),
            _ => None,
        }
    }

    /// A short, stable, snake_case name of the class (without its details), fit for
    /// a metrics label or a log field.
    pub const fn as_str(self) -> &'static str {
        match self {
            Class::Success => "success",
            Class::NotSent(_) => "not_sent",
            Class::Transport(_) => "transport",
            Class::Timeout(_) => "timeout",
            Class::DeadlineExceeded => "deadline_exceeded",
            Class::Cancelled => "cancelled",
            Class::Throttled(_) => "throttled",
            Class::ServerError(_) => "server_error",
            Class::NotImplemented(_) => "not_implemented",
            Class::ClientError(_) => "client_error",
            Class::Rejected(_) => "rejected",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Class::Success => f.write_str("success"),
            Class::NotSent(cause) => write!(f, "not sent ({cause:?})"),
            Class::Transport(cause) => write!(f, "transport failure ({cause:?})"),
            Class::Timeout(tier) => write!(f, "{tier} timeout"),
            Class::DeadlineExceeded => f.write_str("deadline exceeded"),
            Class::Cancelled => f.write_str("cancelled"),
            Class::Throttled(Throttle {
                code,
                retry_after: Some(after),
            }) => write!(f, "throttled by {code}, retry after {after:?}"),
            Class::Throttled(Throttle { code, .. }) => write!(f, "throttled by {code}"),
            Class::ServerError(code) => write!(f, "server error ({code})"),
            Class::NotImplemented(code) => write!(f, "not implemented ({code})"),
            Class::ClientError(code) => write!(f, "client error ({code})"),
            Class::Rejected(Rejection::BreakerOpen { retry_after }) => {
                write!(f, "rejected: circuit breaker open for {retry_after:?}")
            }
            Class::Rejected(Rejection::BudgetExhausted) => {
                f.write_str("rejected: retry budget exhausted")
            }
            Class::Rejected(Rejection::LoadShed) => f.write_str("rejected: load shed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_is_small_and_copy() {
        fn assert_copy<T: Copy + Send + Sync + 'static>() {}
        assert_copy::<Class>();
        assert!(std::mem::size_of::<Class>() <= 32);
    }

    #[test]
    fn connect_failures_count_against_the_breaker_but_refused_streams_do_not() {
        assert_eq!(
            Class::NotSent(NotSent::ConnectRefused).breaker(),
            BreakerVerdict::Failure
        );
        assert_eq!(
            Class::NotSent(NotSent::RefusedStream).breaker(),
            BreakerVerdict::Ignore
        );
    }

    #[test]
    fn not_sent_is_retryable_for_any_request_but_transport_only_for_idempotent() {
        assert!(Class::NotSent(NotSent::Connect).is_retryable(false));
        assert!(!Class::Transport(Transport::Reset).is_retryable(false));
        assert!(Class::Transport(Transport::Reset).is_retryable(true));
    }

    #[test]
    fn timeout_tier_covers_deadline_and_connect() {
        assert_eq!(Class::DeadlineExceeded.timeout_tier(), Some(Tier::Total));
        assert_eq!(Tier::Connect.class().timeout_tier(), Some(Tier::Connect));
        assert_eq!(Tier::Attempt.class(), Class::Timeout(Tier::Attempt));
        assert!(!Class::Cancelled.is_timeout());
    }
}
