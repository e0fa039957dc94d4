//! The `Retry-After` header (RFC 9110 §10.2.3).
//!
//! A server may say how long to wait either as a number of seconds or as an
//! HTTP-date (RFC 9110 §5.6.7, in any of its three forms). A date is read against
//! the response's own `Date` header when there is one, so that a clock skew between
//! the server and us does not stretch or shrink the wait.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::{DATE, RETRY_AFTER};

use crate::ParseError;

/// A parsed `Retry-After` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// A number of seconds to wait (`Retry-After: 120`).
    Delay(Duration),
    /// A point in time after which to try again (`Retry-After: Fri, 31 Dec 1999
    /// 23:59:59 GMT`).
    Date(SystemTime),
}

impl RetryAfter {
    /// Parses a `Retry-After` value: delta-seconds (saturating at `u64::MAX` seconds
    /// rather than overflowing), or an HTTP-date in IMF-fixdate, RFC 850 or asctime
    /// form.
    pub fn parse(value: &[u8]) -> Result<RetryAfter, ParseError> {
        let value = trim(value);
        if value.is_empty() {
            return Err(ParseError::new("retry-after", "empty value"));
        }
        if value.iter().all(u8::is_ascii_digit) {
            let seconds = value.iter().fold(0u64, |n, digit| {
                n.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
            });
            return Ok(RetryAfter::Delay(Duration::from_secs(seconds)));
        }
        let text = std::str::from_utf8(value)
            .map_err(|_| ParseError::new("retry-after", "neither seconds nor an HTTP-date"))?;
        httpdate::parse_http_date(text)
            .map(RetryAfter::Date)
            .map_err(|_| ParseError::new("retry-after", "neither seconds nor an HTTP-date"))
    }

    /// How long to wait, counted from `now`. A date in the past gives zero.
    pub fn delay_from(self, now: SystemTime) -> Duration {
        match self {
            RetryAfter::Delay(delay) => delay,
            RetryAfter::Date(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }
}

/// Reads the `Retry-After` of a response and turns it into a delay.
///
/// A date is counted from the response's `Date` header when that header is present
/// and valid, and from `now` otherwise. Returns `Ok(None)` when there is no
/// `Retry-After`, and an error when it is malformed.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Result<Option<Duration>, ParseError> {
    let Some(value) = headers.get(RETRY_AFTER) else {
        return Ok(None);
    };
    let parsed = RetryAfter::parse(value.as_bytes())?;
    let reference = match parsed {
        RetryAfter::Delay(_) => now,
        RetryAfter::Date(_) => headers
            .get(DATE)
            .and_then(|date| std::str::from_utf8(date.as_bytes()).ok())
            .and_then(|date| httpdate::parse_http_date(date).ok())
            .unwrap_or(now),
    };
    Ok(Some(parsed.delay_from(reference)))
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date.
    const EXAMPLE: u64 = 784_111_777;

    #[test]
    fn parses_delta_seconds() {
        assert_eq!(
            RetryAfter::parse(b"120"),
            Ok(RetryAfter::Delay(Duration::from_secs(120)))
        );
        assert_eq!(
            RetryAfter::parse(b" 0 "),
            Ok(RetryAfter::Delay(Duration::ZERO))
        );
    }

    #[test]
    fn huge_delta_seconds_saturate() {
        assert_eq!(
            RetryAfter::parse(b"99999999999999999999999999"),
            Ok(RetryAfter::Delay(Duration::from_secs(u64::MAX)))
        );
    }

    #[test]
    fn parses_all_three_date_forms() {
        for form in [
            &b"Sun, 06 Nov 1994 08:49:37 GMT"[..],
            b"Sunday, 06-Nov-94 08:49:37 GMT",
            b"Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                RetryAfter::parse(form),
                Ok(RetryAfter::Date(at(EXAMPLE))),
                "{form:?}"
            );
        }
    }

    #[test]
    fn rejects_negative_and_garbage() {
        for bad in [
            &b""[..],
            b"-5",
            b"1.5",
            b"soon",
            b"\xff\xfe",
            b"Sun, 32 Nov 1994 08:49:37 GMT",
        ] {
            assert!(RetryAfter::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn past_dates_mean_no_wait() {
        assert_eq!(
            RetryAfter::Date(at(EXAMPLE)).delay_from(at(EXAMPLE + 10)),
            Duration::ZERO
        );
    }

    #[test]
    fn dates_are_read_against_the_response_date_to_cancel_clock_skew() {
        let mut headers = HeaderMap::new();
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:50:07 GMT"),
        );
        headers.insert(
            DATE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        // Our clock is an hour ahead of the server's: without `Date` we would not wait.
        let skewed_now = at(EXAMPLE + 3600);
        assert_eq!(
            retry_after(&headers, skewed_now),
            Ok(Some(Duration::from_secs(30)))
        );
        headers.remove(DATE);
        assert_eq!(retry_after(&headers, skewed_now), Ok(Some(Duration::ZERO)));
    }

    #[test]
    fn missing_header_is_none() {
        assert_eq!(retry_after(&HeaderMap::new(), at(0)), Ok(None));
    }
}
