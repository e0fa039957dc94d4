//! gRPC status codes and the gRPC-over-HTTP/2 headers that classification reads:
//! `grpc-status`, `grpc-message` and `grpc-timeout`.
//!
//! Every parser here is total: any input gives a value or a [`ParseError`], never a
//! panic.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::HeaderValue;

use crate::ParseError;

/// The name of the header (or trailer) that carries the gRPC status code.
pub const GRPC_STATUS: &str = "grpc-status";
/// The name of the header (or trailer) that carries the gRPC status message.
pub const GRPC_MESSAGE: &str = "grpc-message";
/// The name of the request header that carries a gRPC call's timeout.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";
/// The name of the trailer in which a server pushes back on retries (gRPC A6).
pub const GRPC_RETRY_PUSHBACK_MS: &str = "grpc-retry-pushback-ms";

/// A gRPC status code, as in `grpc/doc/statuscodes.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum GrpcCode {
    /// 0: not an error.
    Ok = 0,
    /// 1: the operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// 2: unknown error.
    Unknown = 2,
    /// 3: the client specified an invalid argument.
    InvalidArgument = 3,
    /// 4: the deadline expired before the operation could complete.
    DeadlineExceeded = 4,
    /// 5: some requested entity was not found.
    NotFound = 5,
    /// 6: the entity that a client attempted to create already exists.
    AlreadyExists = 6,
    /// 7: the caller does not have permission.
    PermissionDenied = 7,
    /// 8: some resource has been exhausted (quota, rate limit).
    ResourceExhausted = 8,
    /// 9: the system is not in a state required for the operation.
    FailedPrecondition = 9,
    /// 10: the operation was aborted (a concurrency conflict).
    Aborted = 10,
    /// 11: the operation was attempted past the valid range.
    OutOfRange = 11,
    /// 12: the operation is not implemented.
    Unimplemented = 12,
    /// 13: internal error.
    Internal = 13,
    /// 14: the service is currently unavailable.
    Unavailable = 14,
    /// 15: unrecoverable data loss or corruption.
    DataLoss = 15,
    /// 16: the request does not have valid authentication credentials.
    Unauthenticated = 16,
}

impl GrpcCode {
    /// All codes, in numeric order.
    pub const ALL: [GrpcCode; 17] = [
        GrpcCode::Ok,
        GrpcCode::Cancelled,
        GrpcCode::Unknown,
        GrpcCode::InvalidArgument,
        GrpcCode::DeadlineExceeded,
        GrpcCode::NotFound,
        GrpcCode::AlreadyExists,
        GrpcCode::PermissionDenied,
        GrpcCode::ResourceExhausted,
        GrpcCode::FailedPrecondition,
        GrpcCode::Aborted,
        GrpcCode::OutOfRange,
        GrpcCode::Unimplemented,
        GrpcCode::Internal,
        GrpcCode::Unavailable,
        GrpcCode::DataLoss,
        GrpcCode::Unauthenticated,
    ];

    /// The code for a number. Numbers outside 0..=16 are `UNKNOWN`, as the gRPC
    /// specification asks of clients.
    pub const fn from_i32(value: i32) -> GrpcCode {
        if value >= 0 && value <= 16 {
            GrpcCode::ALL[value as usize]
        } else {
            GrpcCode::Unknown
        }
    }

    /// The code's number.
    pub const fn as_i32(self) -> i32 {
        self as i32
    }

    /// The code's canonical name, such as `UNAVAILABLE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            GrpcCode::Ok => "OK",
            GrpcCode::Cancelled => "CANCELLED",
            GrpcCode::Unknown => "UNKNOWN",
            GrpcCode::InvalidArgument => "INVALID_ARGUMENT",
            GrpcCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
            GrpcCode::NotFound => "NOT_FOUND",
            GrpcCode::AlreadyExists => "ALREADY_EXISTS",
            GrpcCode::PermissionDenied => "PERMISSION_DENIED",
            GrpcCode::ResourceExhausted => "RESOURCE_EXHAUSTED",
            GrpcCode::FailedPrecondition => "FAILED_PRECONDITION",
            GrpcCode::Aborted => "ABORTED",
            GrpcCode::OutOfRange => "OUT_OF_RANGE",
            GrpcCode::Unimplemented => "UNIMPLEMENTED",
            GrpcCode::Internal => "INTERNAL",
            GrpcCode::Unavailable => "UNAVAILABLE",
            GrpcCode::DataLoss => "DATA_LOSS",
            GrpcCode::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The gRPC code that a response with this HTTP status and no `grpc-status`
    /// stands for, as in gRPC's `http-grpc-status-mapping.md`.
    pub fn from_http_status(status: http::StatusCode) -> GrpcCode {
        match status.as_u16() {
            400 => GrpcCode::Internal,
            401 => GrpcCode::Unauthenticated,
            403 => GrpcCode::PermissionDenied,
            404 => GrpcCode::Unimplemented,
            429 | 502 | 503 | 504 => GrpcCode::Unavailable,
            _ => GrpcCode::Unknown,
        }
    }
}

impl fmt::Display for GrpcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a `grpc-status` value: a decimal number. Numbers out of range are
/// `UNKNOWN`; anything that is not a number is an error.
pub fn parse_grpc_status(value: &[u8]) -> Result<GrpcCode, ParseError> {
    if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::new(GRPC_STATUS, "not a decimal number"));
    }
    let number = value
        .iter()
        .fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0'));
    Ok(GrpcCode::from_i32(i32::try_from(number).unwrap_or(-1)))
}

/// Decodes a `grpc-message` value, which is percent-encoded UTF-8.
///
/// As the gRPC specification asks, decoding is lenient: a malformed escape is kept
/// as it is, and invalid UTF-8 is replaced, so any input gives a message.
pub fn decode_grpc_message(value: &[u8]) -> Cow<'_, str> {
    if !value.contains(&b'%') {
        return String::from_utf8_lossy(value);
    }
    let mut bytes = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let escaped = match value.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                bytes.push(byte);
                i += 3;
            }
            None => {
                bytes.push(value[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
}

/// Percent-encodes a `grpc-message` value, as the gRPC specification asks: every
/// byte outside printable ASCII (0x20 to 0x7E), and `%` itself, becomes `%XX`
/// (RFC 3986 style, upper-case hex).
pub fn encode_grpc_message(message: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(message.len());
    for &byte in message.as_bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
    out
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Parses a `grpc-timeout` value: one to eight ASCII digits followed by a unit,
/// `H` (hours), `M` (minutes), `S` (seconds), `m` (milliseconds), `u`
/// (microseconds) or `n` (nanoseconds).
pub fn parse_grpc_timeout(value: &[u8]) -> Result<Duration, ParseError> {
    let Some((&unit, digits)) = value.split_last() else {
        return Err(ParseError::new(GRPC_TIMEOUT, "empty value"));
    };
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::new(
            GRPC_TIMEOUT,
            "expected one to eight digits before the unit",
        ));
    }
    // Eight digits fit in a u64 many times over, and so does any product below.
    let amount = digits
        .iter()
        .fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0'));
    Ok(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => {
            return Err(ParseError::new(
                GRPC_TIMEOUT,
                "unit must be one of H, M, S, m, u, n",
            ));
        }
    })
}

/// Formats a duration as a `grpc-timeout` value.
///
/// The value uses the finest unit in which the duration fits in eight digits, and
/// is rounded down in it, so the receiver never sees more time than there is. The
/// largest value, `99999999H`, stands for anything longer.
pub fn format_grpc_timeout(duration: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let nanos = duration.as_nanos();
    let units: [(u128, u8); 6] = [
        (1, b'n'),
        (1_000, b'u'),
        (1_000_000, b'm'),
        (1_000_000_000, b'S'),
        (60_000_000_000, b'M'),
        (3_600_000_000_000, b'H'),
    ];
    let (amount, unit) = units
        .iter()
        .map(|&(per, unit)| (nanos / per, unit))
        .find(|&(amount, _)| amount <= MAX)
        .unwrap_or((MAX, b'H'));
    let mut buf = [0u8; 9];
    let mut len = 0;
    let mut rest = amount as u64;
    let mut digits = [0u8; 8];
    loop {
        digits[len] = b'0' + (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for (i, digit) in digits[..len].iter().rev().enumerate() {
        buf[i] = *digit;
    }
    buf[len] = unit;
    HeaderValue::from_bytes(&buf[..=len])
        .expect("digits and a unit letter are a valid header value")
}

/// Parses `grpc-retry-pushback-ms`: a non-negative number of milliseconds to wait
/// before the next attempt, or `None` when the server says not to retry at all (a
/// negative value, as gRPC A6 defines).
pub fn parse_retry_pushback(value: &[u8]) -> Result<Option<Duration>, ParseError> {
    let (negative, digits) = match value.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, value),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::new(GRPC_RETRY_PUSHBACK_MS, "not an integer"));
    }
    if negative {
        return Ok(None);
    }
    let millis = digits.iter().fold(0u64, |n, digit| {
        n.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
    });
    Ok(Some(Duration::from_millis(millis)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_parses_every_unit() {
        assert_eq!(parse_grpc_timeout(b"2H"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout(b"3M"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout(b"10S"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_grpc_timeout(b"250m"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout(b"7u"), Ok(Duration::from_micros(7)));
        assert_eq!(
            parse_grpc_timeout(b"99999999n"),
            Ok(Duration::from_nanos(99_999_999))
        );
    }

    #[test]
    fn grpc_timeout_rejects_malformed_values() {
        for bad in [
            &b""[..],
            b"S",
            b"123456789S",
            b"12x",
            b"-1S",
            b"1.5S",
            b"10 S",
            b"\xff",
        ] {
            assert!(parse_grpc_timeout(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn grpc_timeout_formats_in_the_finest_unit_that_fits() {
        assert_eq!(format_grpc_timeout(Duration::from_millis(250)), "250000u");
        assert_eq!(format_grpc_timeout(Duration::from_nanos(5)), "5n");
        assert_eq!(format_grpc_timeout(Duration::from_secs(30)), "30000000u");
        assert_eq!(format_grpc_timeout(Duration::from_secs(3600)), "3600000m");
        assert_eq!(format_grpc_timeout(Duration::ZERO), "0n");
        assert_eq!(format_grpc_timeout(Duration::MAX), "99999999H");
    }

    #[test]
    fn grpc_status_parses_numbers_and_maps_unknown_ones() {
        assert_eq!(parse_grpc_status(b"14"), Ok(GrpcCode::Unavailable));
        assert_eq!(parse_grpc_status(b"0"), Ok(GrpcCode::Ok));
        assert_eq!(parse_grpc_status(b"17"), Ok(GrpcCode::Unknown));
        assert_eq!(parse_grpc_status(b"9999999999"), Ok(GrpcCode::Unknown));
        assert!(parse_grpc_status(b"").is_err());
        assert!(parse_grpc_status(b"-1").is_err());
        assert!(parse_grpc_status(b"OK").is_err());
    }

    #[test]
    fn grpc_message_is_percent_decoded_leniently() {
        assert_eq!(decode_grpc_message(b"plain"), "plain");
        assert_eq!(decode_grpc_message(b"a%20b%E2%82%AC"), "a b\u{20ac}");
        assert_eq!(decode_grpc_message(b"100%"), "100%");
        assert_eq!(decode_grpc_message(b"%zz%4"), "%zz%4");
        assert_eq!(decode_grpc_message(b"%ff"), "\u{fffd}");
    }

    #[test]
    fn grpc_message_round_trips_through_encoding() {
        let message = "50% done: caf\u{e9}\n";
        let encoded = encode_grpc_message(message);
        assert_eq!(encoded, "50%25 done: caf%C3%A9%0A");
        assert_eq!(decode_grpc_message(encoded.as_bytes()), message);
    }

    #[test]
    fn pushback_negative_means_stop() {
        assert_eq!(parse_retry_pushback(b"-1"), Ok(None));
        assert_eq!(
            parse_retry_pushback(b"150"),
            Ok(Some(Duration::from_millis(150)))
        );
        assert!(parse_retry_pushback(b"").is_err());
        assert!(parse_retry_pushback(b"-").is_err());
        assert!(parse_retry_pushback(b"1e3").is_err());
    }
}
