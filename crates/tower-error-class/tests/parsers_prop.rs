//! Property tests: the parsers are total, and what we format parses back.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use proptest::prelude::*;
use tower_error_class::grpc::{
    decode_grpc_message, encode_grpc_message, format_grpc_timeout, parse_grpc_status,
    parse_grpc_timeout, parse_retry_pushback,
};
use tower_error_class::{RetryAfter, retry_after};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = RetryAfter::parse(&bytes);
        let _ = parse_grpc_timeout(&bytes);
        let _ = parse_grpc_status(&bytes);
        let _ = parse_retry_pushback(&bytes);
        let _ = decode_grpc_message(&bytes);
        if let Ok(value) = http::HeaderValue::from_bytes(&bytes) {
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", value.clone());
            headers.insert("date", value);
            let _ = retry_after(&headers, SystemTime::now());
        }
    }

    #[test]
    fn parsers_never_panic_on_plausible_text(text in "[0-9A-Za-z ,:%-]{0,40}") {
        let _ = RetryAfter::parse(text.as_bytes());
        let _ = parse_grpc_timeout(text.as_bytes());
        let _ = parse_grpc_status(text.as_bytes());
    }

    #[test]
    fn grpc_timeout_round_trips(nanos in any::<u64>()) {
        let duration = Duration::from_nanos(nanos);
        let value = format_grpc_timeout(duration);
        prop_assert!(value.len() <= 9, "{value:?}");
        let parsed = parse_grpc_timeout(value.as_bytes()).unwrap();
        // Rounded down, by less than one unit of the format chosen.
        prop_assert!(parsed <= duration);
        let unit = match value.as_bytes()[value.len() - 1] {
            b'n' => Duration::from_nanos(1),
            b'u' => Duration::from_micros(1),
            b'm' => Duration::from_millis(1),
            b'S' => Duration::from_secs(1),
            b'M' => Duration::from_secs(60),
            _ => Duration::from_secs(3600),
        };
        prop_assert!(duration - parsed < unit);
        // Exact below 100 ms, where nanoseconds fit in eight digits.
        if nanos < 100_000_000 {
            prop_assert_eq!(parsed, duration);
        }
    }

    #[test]
    fn grpc_timeout_parses_every_well_formed_value(amount in 0u64..100_000_000, unit in "[HMSmun]") {
        let text = format!("{amount}{unit}");
        prop_assert!(parse_grpc_timeout(text.as_bytes()).is_ok());
    }

    #[test]
    fn retry_after_dates_round_trip_through_formatting(secs in 0u64..253_402_300_799) {
        // Whole seconds from 1970 to the end of 9999, the range HTTP-dates cover.
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        let text = httpdate::fmt_http_date(at);
        prop_assert_eq!(RetryAfter::parse(text.as_bytes()), Ok(RetryAfter::Date(at)));
    }

    #[test]
    fn retry_after_seconds_round_trip(secs in any::<u64>()) {
        prop_assert_eq!(
            RetryAfter::parse(secs.to_string().as_bytes()),
            Ok(RetryAfter::Delay(Duration::from_secs(secs)))
        );
    }

    #[test]
    fn grpc_status_round_trips(code in 0i32..=16) {
        let parsed = parse_grpc_status(code.to_string().as_bytes()).unwrap();
        prop_assert_eq!(parsed.as_i32(), code);
    }

    #[test]
    fn grpc_message_round_trips(message in any::<String>()) {
        let encoded = encode_grpc_message(&message);
        prop_assert!(http::HeaderValue::from_str(&encoded).is_ok());
        prop_assert_eq!(decode_grpc_message(encoded.as_bytes()), message);
    }
}
