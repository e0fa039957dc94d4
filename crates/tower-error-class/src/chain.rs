//! Classification of errors by walking their `source()` chain.

use std::error::Error as StdError;
use std::io;

use crate::class::{Class, NotSent, Transport};
use crate::error::Error;
use crate::kinds::{DeadlineExceeded, Elapsed, NotRetried, Rejected};

/// Classifies an error by walking its `source()` chain, outermost first.
///
/// What it recognises, and the class it gives:
///
/// | in the chain | class |
/// |---|---|
/// | our [`Error`] | its class |
/// | [`Elapsed`] | by tier: connect → not sent, total → deadline exceeded, others → timeout |
/// | [`DeadlineExceeded`], [`Rejected`], [`NotRetried`] | deadline exceeded, rejected, the last failure's class |
/// | `io::Error` `ConnectionRefused` | not sent (refused) |
/// | `io::Error` `AddrNotAvailable`, `HostUnreachable`, `NetworkUnreachable`, `NotConnected` | not sent (connect) |
/// | `io::Error` `ConnectionReset`, `ConnectionAborted`, `BrokenPipe`, `UnexpectedEof`, `TimedOut` | transport; not sent (connect) inside a connect error |
/// | `hyper_util` client connect error (`hyper` feature) | not sent; refined by the io error beneath |
/// | `hyper::Error` canceled / incomplete message / parse / timeout (`hyper` feature) | not sent (connection closed) / transport |
/// | `h2::Error` `REFUSED_STREAM`; remote `GOAWAY` with `NO_ERROR` (`h2` feature) | not sent |
/// | other `h2::Error` | transport (reset or protocol) |
/// | `tonic::Status` (`tonic` feature) | by its code, as [`GrpcClassifier`](crate::GrpcClassifier) |
/// | anything else | transport (other) |
///
/// An `io::Error` that wraps another error is looked through, so an error of ours
/// carried inside an `io::Error` (as in a body stream) is still found.
pub fn classify_error(err: &(dyn StdError + 'static)) -> Class {
    #[cfg_attr(not(feature = "hyper"), allow(unused_mut))]
    let mut connecting = false;
    for link in Chain::new(err) {
        if let Some(class) = ours(link) {
            return class;
        }
        #[cfg(feature = "tonic")]
        if let Some(status) = link.downcast_ref::<tonic::Status>() {
            return crate::tonic::classify_status(status);
        }
        #[cfg(feature = "hyper")]
        if let Some(client) = link.downcast_ref::<hyper_util::client::legacy::Error>() {
            connecting |= client.is_connect();
            continue;
        }
        #[cfg(feature = "hyper")]
        if let Some(hyper) = link.downcast_ref::<hyper::Error>() {
            if let Some(class) = hyper_class(hyper) {
                return class;
            }
            continue;
        }
        #[cfg(feature = "h2")]
        if let Some(h2) = link.downcast_ref::<h2::Error>() {
            if let Some(class) = h2_class(h2, connecting) {
                return class;
            }
            continue;
        }
        if let Some(class) = link
            .downcast_ref::<io::Error>()
            .and_then(|io| io_class(io.kind(), connecting))
        {
            return class;
        }
    }
    if connecting {
        Class::NotSent(NotSent::Connect)
    } else {
        Class::Transport(Transport::Other)
    }
}

fn ours(err: &(dyn StdError + 'static)) -> Option<Class> {
    if let Some(err) = err.downcast_ref::<Error>() {
        Some(err.class())
    } else if let Some(err) = err.downcast_ref::<Elapsed>() {
        Some(err.class())
    } else if err.is::<DeadlineExceeded>() {
        Some(Class::DeadlineExceeded)
    } else if let Some(err) = err.downcast_ref::<Rejected>() {
        Some(Class::Rejected(err.rejection()))
    } else {
        err.downcast_ref::<NotRetried>().map(NotRetried::class)
    }
}

fn io_class(kind: io::ErrorKind, connecting: bool) -> Option<Class> {
    use io::ErrorKind as K;
    let class = match kind {
        K::ConnectionRefused => Class::NotSent(NotSent::ConnectRefused),
        K::AddrNotAvailable | K::HostUnreachable | K::NetworkUnreachable | K::NotConnected => {
            Class::NotSent(NotSent::Connect)
        }
        K::TimedOut if connecting => Class::NotSent(NotSent::ConnectTimeout),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
            if connecting =>
        {
            Class::NotSent(NotSent::Connect)
        }
        K::ConnectionReset => Class::Transport(Transport::Reset),
        K::ConnectionAborted => Class::Transport(Transport::Aborted),
        K::BrokenPipe => Class::Transport(Transport::BrokenPipe),
        K::UnexpectedEof => Class::Transport(Transport::Incomplete),
        K::TimedOut => Class::Transport(Transport::TimedOut),
        _ => return None,
    };
    Some(class)
}

#[cfg(feature = "hyper")]
fn hyper_class(err: &hyper::Error) -> Option<Class> {
    if err.is_canceled() {
        // hyper cancels a request that it could not write because the connection
        // closed first: it never left.
        Some(Class::NotSent(NotSent::ConnectionClosed))
    } else if err.is_incomplete_message() {
        Some(Class::Transport(Transport::Incomplete))
    } else if err.is_parse() {
        Some(Class::Transport(Transport::Protocol))
    } else if err.is_timeout() {
        Some(Class::Transport(Transport::TimedOut))
    } else {
        // Look beneath: an io or h2 error says more.
        None
    }
}

#[cfg(feature = "h2")]
fn h2_class(err: &h2::Error, connecting: bool) -> Option<Class> {
    if let Some(io) = err.get_io() {
        return io_class(io.kind(), connecting);
    }
    let reason = err.reason();
    if reason == Some(h2::Reason::REFUSED_STREAM) {
        return Some(Class::NotSent(NotSent::RefusedStream));
    }
    // h2 fails a stream with the remote GOAWAY only when its id is above the last
    // stream the server says it processed (RFC 9113 §6.8); a graceful GOAWAY
    // (NO_ERROR) therefore proves the stream was not acted on.
    if err.is_go_away() && err.is_remote() && reason == Some(h2::Reason::NO_ERROR) {
        return Some(Class::NotSent(NotSent::GoAway));
    }
    Some(if err.is_reset() {
        Class::Transport(Transport::Reset)
    } else {
        Class::Transport(Transport::Protocol)
    })
}

/// Finds an error of type `T` in the chain that starts with `err`, looking through
/// `io::Error`s that wrap another error.
///
/// ```
/// use std::time::Duration;
/// use tower_error_class::{BoxError, Elapsed, Error, Tier};
///
/// let boxed: BoxError = Box::new(Error::from(Elapsed::new(Tier::Connect, Duration::from_secs(1))));
/// let elapsed = tower_error_class::find::<Elapsed>(&*boxed).unwrap();
/// assert_eq!(elapsed.tier(), Tier::Connect);
/// ```
pub fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    Chain::new(err).find_map(|link| link.downcast_ref::<T>())
}

/// The links of an error chain: the error, then each `source()`, where an
/// `io::Error` that wraps a custom error yields that error itself (its `source()`
/// skips it).
struct Chain<'a> {
    next: Option<&'a (dyn StdError + 'static)>,
}

impl<'a> Chain<'a> {
    fn new(err: &'a (dyn StdError + 'static)) -> Chain<'a> {
        Chain { next: Some(err) }
    }
}

impl<'a> Iterator for Chain<'a> {
    type Item = &'a (dyn StdError + 'static);

    fn next(&mut self) -> Option<Self::Item> {
        let current = self.next?;
        self.next = match current.downcast_ref::<io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => current.source(),
        };
        Some(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Rejection, Tier};
    use std::fmt;
    use std::time::Duration;

    #[derive(Debug)]
    struct Outer(Box<dyn StdError + Send + Sync>);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer")
        }
    }
    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn walks_the_source_chain() {
        let err = Outer(Box::new(io::Error::from(io::ErrorKind::ConnectionReset)));
        assert_eq!(classify_error(&err), Class::Transport(Transport::Reset));
    }

    #[test]
    fn looks_through_io_errors_that_wrap_ours() {
        let elapsed = Elapsed::new(Tier::BodyIdle, Duration::from_secs(1));
        let err = io::Error::other(elapsed);
        assert_eq!(classify_error(&err), Class::Timeout(Tier::BodyIdle));
        assert_eq!(find::<Elapsed>(&err), Some(&elapsed));
    }

    #[test]
    fn our_types_win_over_what_lies_beneath() {
        let rejected = Outer(Box::new(Rejected::new(Rejection::LoadShed)));
        assert_eq!(
            classify_error(&rejected),
            Class::Rejected(Rejection::LoadShed)
        );
    }

    #[test]
    fn unknown_errors_are_ambiguous_transport_failures() {
        let err = io::Error::other("something");
        assert_eq!(classify_error(&err), Class::Transport(Transport::Other));
    }
}
