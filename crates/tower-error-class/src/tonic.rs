//! Conversions between our errors and `tonic::Status` (the `tonic` feature).
//!
//! A timeout of ours becomes `DEADLINE_EXCEEDED`, never `CANCELLED` (which is what a
//! bare `BoxError` becomes through `Status::from_error`); an open breaker or a
//! transport failure becomes `UNAVAILABLE`, which gRPC clients know to retry
//! elsewhere or later.

use tonic::metadata::MetadataValue;

use crate::class::Class;
use crate::classify::GrpcClassifier;
use crate::error::Error;
use crate::grpc::{GRPC_RETRY_PUSHBACK_MS, GrpcCode};

/// The class of a `tonic::Status`, by the default table of
/// [`GrpcClassifier`](crate::GrpcClassifier) (with `grpc-retry-pushback-ms` read
/// from its metadata).
pub fn classify_status(status: &tonic::Status) -> Class {
    GrpcClassifier::new().classify_code(
        GrpcCode::from_i32(status.code() as i32),
        status.metadata().as_ref(),
    )
}

impl Error {
    /// The `tonic::Status` that stands for this error. A wait that the error knows
    /// (an open breaker's, a throttle's) travels as `grpc-retry-pushback-ms`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_error_class::{Elapsed, Error, Tier};
    ///
    /// let status = Error::from(Elapsed::new(Tier::Attempt, Duration::from_secs(1))).to_status();
    /// assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    /// ```
    pub fn to_status(&self) -> tonic::Status {
        let mut status = tonic::Status::new(
            tonic::Code::from_i32(self.grpc_code().as_i32()),
            self.to_string(),
        );
        if let Some(wait) = self.class().retry_after() {
            let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            status
                .metadata_mut()
                .insert(GRPC_RETRY_PUSHBACK_MS, MetadataValue::from(millis));
        }
        status
    }
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> tonic::Status {
        err.to_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Code, Elapsed, Rejected, Tier};
    use std::time::Duration;

    #[test]
    fn timeouts_become_deadline_exceeded_never_cancelled() {
        for tier in [
            Tier::Attempt,
            Tier::ResponseHeaders,
            Tier::Total,
            Tier::Connect,
        ] {
            let status = Error::from(Elapsed::new(tier, Duration::from_secs(1))).to_status();
            assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{tier:?}");
        }
    }

    #[test]
    fn open_breaker_becomes_unavailable_with_pushback() {
        let status = Error::from(Rejected::breaker_open(Duration::from_millis(2500))).to_status();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(
            status.metadata().get(GRPC_RETRY_PUSHBACK_MS).unwrap(),
            "2500"
        );
    }

    #[test]
    fn statuses_classify_by_code() {
        assert_eq!(
            classify_status(&tonic::Status::unavailable("down")),
            Class::ServerError(Code::Grpc(GrpcCode::Unavailable))
        );
        assert_eq!(
            classify_status(&tonic::Status::deadline_exceeded("late")),
            Class::DeadlineExceeded
        );
    }
}
