//! The one error type of the stack, and the parse error of the header parsers.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::class::{Class, Tier};

/// A type-erased error, as tower uses.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// The error that every layer of this workspace returns.
///
/// It carries the [`Class`] of the failure, an optional message and the source
/// chain. Wrapping an error that already is an `Error` (with [`Error::wrap`]) gives
/// it back unchanged, so a stack of our layers returns one `Error`, not
/// `RetryError<BreakerError<TimeoutError<E>>>`.
///
/// The error is one pointer wide and allocates only when it is created, on the
/// error path.
///
/// ```
/// use std::time::Duration;
/// use tower_error_class::{Class, Elapsed, Error, Tier};
///
/// let err = Error::from(Elapsed::new(Tier::Attempt, Duration::from_secs(2)));
/// assert_eq!(err.class(), Class::Timeout(Tier::Attempt));
/// assert_eq!(err.timeout_tier(), Some(Tier::Attempt));
/// assert_eq!(err.find::<Elapsed>().map(|e| e.after()), Some(Duration::from_secs(2)));
///
/// // Wrapping it again changes nothing.
/// let again = Error::wrap(err);
/// assert_eq!(again.class(), Class::Timeout(Tier::Attempt));
/// assert!(std::error::Error::source(&again).unwrap().is::<Elapsed>());
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    class: Class,
    message: Option<Cow<'static, str>>,
    source: Option<BoxError>,
}

impl Error {
    /// An error of the given class with a message and no source.
    pub fn new(class: Class, message: impl Into<Cow<'static, str>>) -> Error {
        Error::build(class, Some(message.into()), None)
    }

    /// Turns any error into an `Error`, classifying it with
    /// [`classify_error`](crate::classify_error). An error that already is an
    /// `Error` is returned unchanged.
    pub fn wrap(source: impl Into<BoxError>) -> Error {
        match source.into().downcast::<Error>() {
            Ok(ours) => *ours,
            Err(other) => {
                let class = crate::classify_error(&*other);
                Error::build(class, None, Some(other))
            }
        }
    }

    /// Turns any error into an `Error` of the given class. An error that already is
    /// an `Error` is returned unchanged: the class it has stands.
    pub fn with_class(class: Class, source: impl Into<BoxError>) -> Error {
        match source.into().downcast::<Error>() {
            Ok(ours) => *ours,
            Err(other) => Error::build(class, None, Some(other)),
        }
    }

    fn build(class: Class, message: Option<Cow<'static, str>>, source: Option<BoxError>) -> Error {
        Error {
            inner: Box::new(Inner {
                class,
                message,
                source,
            }),
        }
    }

    /// Replaces the message.
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Error {
        self.inner.message = Some(message.into());
        self
    }

    /// What the failure was.
    pub fn class(&self) -> Class {
        self.inner.class
    }

    /// The message, if one was given.
    pub fn message(&self) -> Option<&str> {
        self.inner.message.as_deref()
    }

    /// Whether one of our timeouts elapsed, or the deadline was exceeded.
    pub fn is_timeout(&self) -> bool {
        self.class().is_timeout()
    }

    /// Which timeout tier elapsed, if one did. See [`Class::timeout_tier`].
    pub fn timeout_tier(&self) -> Option<Tier> {
        self.class().timeout_tier()
    }

    /// Whether a layer of ours refused the call without sending it.
    pub fn is_rejected(&self) -> bool {
        self.class().is_rejected()
    }

    /// Whether the failure came from upstream. See [`Class::is_upstream_failure`].
    pub fn is_upstream_failure(&self) -> bool {
        self.class().is_upstream_failure()
    }

    /// How long to wait before trying again, if the failure says.
    pub fn retry_after(&self) -> Option<Duration> {
        self.class().retry_after()
    }

    /// Finds an error of type `T` in the chain that starts with this error.
    ///
    /// ```
    /// use tower_error_class::{Error, Rejected, Rejection};
    ///
    /// let err = Error::from(Rejected::new(Rejection::LoadShed));
    /// assert_eq!(err.find::<Rejected>().map(|r| r.rejection()), Some(Rejection::LoadShed));
    /// ```
    pub fn find<T: StdError + 'static>(&self) -> Option<&T> {
        crate::find::<T>(self)
    }

    /// Takes the source out, if there is one.
    pub fn into_source(self) -> Option<BoxError> {
        self.inner.source
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug.field("class", &self.inner.class);
        if let Some(message) = &self.inner.message {
            debug.field("message", message);
        }
        if let Some(source) = &self.inner.source {
            debug.field("source", source);
        }
        debug.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The details live in `source()`, as the API guidelines ask, so that error
        // reporters do not print them twice.
        match &self.inner.message {
            Some(message) => f.write_str(message),
            None => fmt::Display::fmt(&self.inner.class, f),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner.source.as_deref().map(|source| source as _)
    }
}

/// A malformed header value: which header, and what is wrong with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    header: &'static str,
    reason: &'static str,
}

impl ParseError {
    pub(crate) const fn new(header: &'static str, reason: &'static str) -> ParseError {
        ParseError { header, reason }
    }

    /// The name of the header that was malformed.
    pub fn header(&self) -> &'static str {
        self.header
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {} header: {}", self.header, self.reason)
    }
}

impl StdError for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Elapsed, NotSent};
    use std::io;

    #[test]
    fn error_is_send_sync_static_and_one_pointer() {
        fn assert_bounds<T: StdError + Send + Sync + 'static>() {}
        assert_bounds::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn wrapping_a_boxed_error_of_ours_returns_it_unchanged() {
        let err = Error::new(Class::DeadlineExceeded, "spent");
        let boxed: BoxError = Box::new(err);
        let again = Error::with_class(Class::Cancelled, boxed);
        assert_eq!(again.class(), Class::DeadlineExceeded);
        assert_eq!(again.to_string(), "spent");
        assert!(again.into_source().is_none());
    }

    #[test]
    fn foreign_errors_are_classified_and_kept_as_source() {
        let err = Error::wrap(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(err.class(), Class::NotSent(NotSent::ConnectRefused));
        assert!(err.find::<io::Error>().is_some());
        assert_eq!(err.to_string(), "not sent (ConnectRefused)");
    }

    #[test]
    fn display_names_the_class_and_source_the_details() {
        let err = Error::from(Elapsed::new(Tier::Attempt, Duration::from_millis(1500)));
        assert_eq!(err.to_string(), "attempt timeout");
        let source = StdError::source(&err).expect("the elapsed error is the source");
        assert_eq!(source.to_string(), "attempt timeout of 1.5s elapsed");
        assert!(err.find::<Elapsed>().is_some());
    }
}
