//! Pins every default classification: each HTTP status family and the special
//! statuses, each gRPC code, each io error kind, and the verdicts of each class.

use std::io;
use std::time::Duration;

use http::{HeaderMap, Response, StatusCode};
use tower_error_class::{
    BreakerVerdict, Class, Classifier, Code, Elapsed, Error, GrpcClassifier, GrpcCode,
    HttpClassifier, NotRetried, NotRetriedReason, NotSent, Rejected, Rejection, Throttle, Tier,
    Transport, classify_error,
};

fn http(status: u16, headers: &[(&str, &str)]) -> Class {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    HttpClassifier::new().classify(Ok(&builder.body(()).unwrap()))
}

fn code(status: u16) -> Code {
    Code::Http(StatusCode::from_u16(status).unwrap())
}

#[test]
fn http_status_table() {
    let table: &[(u16, Class)] = &[
        (100, Class::Success),
        (200, Class::Success),
        (204, Class::Success),
        (301, Class::Success),
        (304, Class::Success),
        (400, Class::ClientError(code(400))),
        (401, Class::ClientError(code(401))),
        (404, Class::ClientError(code(404))),
        (408, Class::NotSent(NotSent::RequestTimeout)),
        (409, Class::ClientError(code(409))),
        (422, Class::ClientError(code(422))),
        (
            429,
            Class::Throttled(Throttle {
                code: code(429),
                retry_after: None,
            }),
        ),
        (499, Class::ClientError(code(499))),
        (500, Class::ServerError(code(500))),
        (501, Class::NotImplemented(code(501))),
        (502, Class::ServerError(code(502))),
        (503, Class::ServerError(code(503))),
        (504, Class::ServerError(code(504))),
        (505, Class::ServerError(code(505))),
        (599, Class::ServerError(code(599))),
    ];
    for &(status, expected) in table {
        assert_eq!(http(status, &[]), expected, "HTTP {status}");
    }
}

#[test]
fn retry_after_turns_429_and_503_into_throttles_with_their_delay() {
    assert_eq!(
        http(429, &[("retry-after", "7")]),
        Class::Throttled(Throttle {
            code: code(429),
            retry_after: Some(Duration::from_secs(7)),
        })
    );
    assert_eq!(
        http(503, &[("retry-after", "2")]),
        Class::Throttled(Throttle {
            code: code(503),
            retry_after: Some(Duration::from_secs(2)),
        })
    );
    // Dated, against the response's own Date.
    assert_eq!(
        http(
            503,
            &[
                ("retry-after", "Sun, 06 Nov 1994 08:49:47 GMT"),
                ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ]
        )
        .retry_after(),
        Some(Duration::from_secs(10))
    );
    // A malformed Retry-After is ignored: the 503 stays a server error.
    assert_eq!(
        http(503, &[("retry-after", "soon")]),
        Class::ServerError(code(503))
    );
}

#[test]
fn http_overrides_replace_single_statuses() {
    let classifier = HttpClassifier::new()
        .with_status(StatusCode::CONFLICT, Class::ServerError(code(409)))
        .with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            Class::Throttled(Throttle {
                code: code(503),
                retry_after: None,
            }),
        )
        .with_status(StatusCode::CONFLICT, Class::Cancelled);
    let res = |status: u16, retry: Option<&str>| {
        let mut builder = Response::builder().status(status);
        if let Some(retry) = retry {
            builder = builder.header("retry-after", retry);
        }
        builder.body(()).unwrap()
    };
    // The later override of 409 wins.
    assert_eq!(classifier.classify(Ok(&res(409, None))), Class::Cancelled);
    // A throttle override picks up Retry-After.
    assert_eq!(
        classifier.classify(Ok(&res(503, Some("4")))).retry_after(),
        Some(Duration::from_secs(4))
    );
    // Others keep the default.
    assert_eq!(
        classifier.classify(Ok(&res(500, None))),
        Class::ServerError(code(500))
    );
}

#[test]
fn grpc_code_table() {
    use GrpcCode::{
        Aborted, AlreadyExists, Cancelled, DataLoss, DeadlineExceeded, FailedPrecondition,
        Internal, InvalidArgument, NotFound, OutOfRange, PermissionDenied, ResourceExhausted,
        Unauthenticated, Unavailable, Unimplemented, Unknown,
    };
    let grpc = |c: GrpcCode| Code::Grpc(c);
    let table: [(GrpcCode, Class); 17] = [
        (GrpcCode::Ok, Class::Success),
        (Cancelled, Class::Cancelled),
        (Unknown, Class::ServerError(grpc(Unknown))),
        (InvalidArgument, Class::ClientError(grpc(InvalidArgument))),
        (DeadlineExceeded, Class::DeadlineExceeded),
        (NotFound, Class::ClientError(grpc(NotFound))),
        (AlreadyExists, Class::ClientError(grpc(AlreadyExists))),
        (PermissionDenied, Class::ClientError(grpc(PermissionDenied))),
        (
            ResourceExhausted,
            Class::Throttled(Throttle {
                code: grpc(ResourceExhausted),
                retry_after: None,
            }),
        ),
        (
            FailedPrecondition,
            Class::ClientError(grpc(FailedPrecondition)),
        ),
        (Aborted, Class::ClientError(grpc(Aborted))),
        (OutOfRange, Class::ClientError(grpc(OutOfRange))),
        (Unimplemented, Class::NotImplemented(grpc(Unimplemented))),
        (Internal, Class::ServerError(grpc(Internal))),
        (Unavailable, Class::ServerError(grpc(Unavailable))),
        (DataLoss, Class::ServerError(grpc(DataLoss))),
        (Unauthenticated, Class::ClientError(grpc(Unauthenticated))),
    ];
    for (c, expected) in table {
        let res = Response::builder()
            .header("grpc-status", c.as_i32().to_string())
            .body(())
            .unwrap();
        assert_eq!(GrpcClassifier::new().classify(Ok(&res)), expected, "{c}");
    }
}

#[test]
fn grpc_heads_without_status_map_http_statuses_and_pushback() {
    let classifier = GrpcClassifier::new();
    let head = |status: u16, headers: &[(&str, &str)]| {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        classifier.classify_head(StatusCode::from_u16(status).unwrap(), &map)
    };
    // 200 without grpc-status: the trailers will tell.
    assert_eq!(head(200, &[]), Class::Success);
    assert_eq!(
        head(503, &[]),
        Class::ServerError(Code::Grpc(GrpcCode::Unavailable))
    );
    assert_eq!(
        head(404, &[]),
        Class::NotImplemented(Code::Grpc(GrpcCode::Unimplemented))
    );
    assert_eq!(
        head(
            200,
            &[("grpc-status", "8"), ("grpc-retry-pushback-ms", "1500")]
        )
        .retry_after(),
        Some(Duration::from_millis(1500))
    );
    // A malformed grpc-status is a broken response.
    assert_eq!(
        head(200, &[("grpc-status", "ok")]),
        Class::ServerError(Code::Grpc(GrpcCode::Unknown))
    );
    // Trailers without a status are a broken response too.
    assert_eq!(
        classifier.classify_trailers(&HeaderMap::new()),
        Class::ServerError(Code::Grpc(GrpcCode::Unknown))
    );
}

#[test]
fn io_error_kind_table() {
    use io::ErrorKind as K;
    let table = [
        (
            K::ConnectionRefused,
            Class::NotSent(NotSent::ConnectRefused),
        ),
        (K::AddrNotAvailable, Class::NotSent(NotSent::Connect)),
        (K::HostUnreachable, Class::NotSent(NotSent::Connect)),
        (K::NetworkUnreachable, Class::NotSent(NotSent::Connect)),
        (K::NotConnected, Class::NotSent(NotSent::Connect)),
        (K::ConnectionReset, Class::Transport(Transport::Reset)),
        (K::ConnectionAborted, Class::Transport(Transport::Aborted)),
        (K::BrokenPipe, Class::Transport(Transport::BrokenPipe)),
        (K::UnexpectedEof, Class::Transport(Transport::Incomplete)),
        (K::TimedOut, Class::Transport(Transport::TimedOut)),
        (K::Other, Class::Transport(Transport::Other)),
        (K::InvalidData, Class::Transport(Transport::Other)),
    ];
    for (kind, expected) in table {
        assert_eq!(
            classify_error(&io::Error::from(kind)),
            expected,
            "io::ErrorKind::{kind:?}"
        );
    }
}

#[test]
fn our_own_errors_classify_as_themselves() {
    let elapsed = |tier| Error::from(Elapsed::new(tier, Duration::from_secs(1))).class();
    assert_eq!(
        elapsed(Tier::Connect),
        Class::NotSent(NotSent::ConnectTimeout)
    );
    assert_eq!(
        elapsed(Tier::ResponseHeaders),
        Class::Timeout(Tier::ResponseHeaders)
    );
    assert_eq!(elapsed(Tier::Attempt), Class::Timeout(Tier::Attempt));
    assert_eq!(elapsed(Tier::Total), Class::DeadlineExceeded);
    assert_eq!(elapsed(Tier::BodyIdle), Class::Timeout(Tier::BodyIdle));
    assert_eq!(elapsed(Tier::BodyTotal), Class::Timeout(Tier::BodyTotal));

    let open = Error::from(Rejected::breaker_open(Duration::from_secs(5)));
    assert_eq!(
        open.class(),
        Class::Rejected(Rejection::BreakerOpen {
            retry_after: Duration::from_secs(5)
        })
    );
    assert_eq!(open.retry_after(), Some(Duration::from_secs(5)));

    // Not retried keeps the last failure's class intact, Retry-After included.
    let throttled = Class::Throttled(Throttle {
        code: code(429),
        retry_after: Some(Duration::from_secs(2)),
    });
    let last = Error::new(throttled, "upstream said 429");
    let not_retried = Error::from(NotRetried::new(
        NotRetriedReason::DeadlineTooClose {
            remaining: Duration::from_secs(1),
            wait: Duration::from_secs(2),
        },
        throttled,
        last,
    ));
    assert_eq!(not_retried.class(), throttled);
    assert_eq!(
        not_retried
            .find::<NotRetried>()
            .map(|e| e.reason().as_str()),
        Some("deadline_too_close")
    );
    // Found through a Box<dyn Error> as well, by anyone.
    let boxed: tower_error_class::BoxError = Box::new(not_retried);
    assert_eq!(classify_error(&*boxed), throttled);
}

#[test]
fn verdict_table() {
    use BreakerVerdict::*;
    let s = code(500);
    // (class, retry idempotent, retry any, breaker)
    let table = [
        (Class::Success, false, false, Success),
        (Class::NotSent(NotSent::ConnectRefused), true, true, Failure),
        (Class::NotSent(NotSent::ConnectTimeout), true, true, Failure),
        (Class::NotSent(NotSent::RefusedStream), true, true, Ignore),
        (Class::NotSent(NotSent::GoAway), true, true, Ignore),
        (Class::NotSent(NotSent::RequestTimeout), true, true, Ignore),
        (Class::Transport(Transport::Reset), true, false, Failure),
        (Class::Timeout(Tier::ResponseHeaders), true, false, Failure),
        (Class::Timeout(Tier::Attempt), true, false, Failure),
        (Class::Timeout(Tier::BodyIdle), false, false, Failure),
        (Class::DeadlineExceeded, false, false, Ignore),
        (Class::Cancelled, false, false, Ignore),
        (
            Class::Throttled(Throttle {
                code: code(429),
                retry_after: None,
            }),
            true,
            true,
            Ignore,
        ),
        (Class::ServerError(s), true, false, Failure),
        (Class::NotImplemented(code(501)), false, false, Success),
        (Class::ClientError(code(404)), false, false, Success),
        (Class::Rejected(Rejection::LoadShed), false, false, Ignore),
        (
            Class::Rejected(Rejection::BudgetExhausted),
            false,
            false,
            Ignore,
        ),
    ];
    for (class, idempotent, any, breaker) in table {
        let verdict = class.verdict();
        assert_eq!(verdict.retry_idempotent, idempotent, "{class:?}");
        assert_eq!(verdict.retry_any, any, "{class:?}");
        assert_eq!(verdict.breaker, breaker, "{class:?}");
        assert_eq!(class.is_retryable(true), idempotent || any, "{class:?}");
        assert_eq!(class.is_retryable(false), any, "{class:?}");
    }
}

#[test]
fn error_responses_follow_the_class() {
    let status = |err: Error| err.to_response::<String>();
    let deadline = status(Error::from(Elapsed::new(
        Tier::Total,
        Duration::from_secs(3),
    )));
    assert_eq!(deadline.status(), 504);
    assert_eq!(
        deadline.body(),
        r#"{"class":"deadline_exceeded","message":"deadline exceeded"}"#
    );
    let attempt = status(Error::from(Elapsed::new(
        Tier::Attempt,
        Duration::from_secs(1),
    )));
    assert_eq!(attempt.status(), 504);
    let open = status(Error::from(Rejected::breaker_open(Duration::from_millis(
        4001,
    ))));
    assert_eq!(open.status(), 503);
    assert_eq!(open.headers()["retry-after"], "5");
    let budget = status(Error::from(Rejected::new(Rejection::BudgetExhausted)));
    assert_eq!(budget.status(), 503);
    assert_eq!(budget.headers()["retry-after"], "1");
    let refused = status(Error::wrap(io::Error::from(
        io::ErrorKind::ConnectionRefused,
    )));
    assert_eq!(refused.status(), 502);
    let reset = status(Error::wrap(io::Error::from(io::ErrorKind::ConnectionReset)));
    assert_eq!(reset.status(), 502);
    let cancelled = status(Error::new(Class::Cancelled, "caller \"left\"\n"));
    assert_eq!(cancelled.status(), 500);
    assert_eq!(
        cancelled.body(),
        r#"{"class":"cancelled","message":"caller \"left\"\n"}"#
    );
}
