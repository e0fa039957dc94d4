//! [`ReplayBody`]: a request body that can be sent again.
//!
//! `http::Request<B>` is not `Clone`, because a body is a stream that is read
//! once. To retry a request, the bytes sent in the first attempt must be kept:
//! `ReplayBody` keeps what it has read up to a byte cap, and a retry replays those
//! bytes, then goes on reading the original body where the first attempt left off
//! (a server may answer before reading it all). Past the cap it stops keeping: the
//! request is still sent once, and the retry layer says why it was not retried.
//!
//! A body that is empty from the start (`is_end_stream()`) needs no buffer: it
//! costs nothing.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tower_error_class::{BoxError, Class, Error, Transport};

/// The owner's side of a replayable body: makes the body of each attempt.
pub(crate) struct Replay<B> {
    shared: Option<Arc<Mutex<Shared<B>>>>,
}

struct Shared<B> {
    /// What has been read and kept, in order.
    chunks: Vec<Bytes>,
    kept: usize,
    limit: usize,
    /// Stopped keeping: the body went past `limit`.
    over_limit: bool,
    /// Reading the original failed.
    failed: bool,
    /// The rest of the original body; `None` once it has ended.
    rest: Option<Pin<Box<B>>>,
    trailers: Option<HeaderMap>,
    hint: SizeHint,
    /// Ids for the bodies made, and the one that went past the limit (the only
    /// one that may go on reading then).
    next_id: u64,
    owner: Option<u64>,
    /// Bodies waiting for the original to make progress. The original wakes only
    /// the last poller; that one wakes the others when a frame arrives.
    waiters: Vec<Waker>,
}

impl<B: Body> Replay<B> {
    /// Wraps `body`, keeping up to `limit` bytes; returns the owner and the first
    /// attempt's body.
    pub(crate) fn new(body: B, limit: usize) -> (Replay<B>, ReplayBody<B>) {
        if body.is_end_stream() {
            return (Replay { shared: None }, ReplayBody::empty());
        }
        let hint = body.size_hint();
        let shared = Arc::new(Mutex::new(Shared {
            chunks: Vec::new(),
            kept: 0,
            limit,
            over_limit: false,
            failed: false,
            rest: Some(Box::pin(body)),
            trailers: None,
            hint,
            next_id: 0,
            owner: None,
            waiters: Vec::new(),
        }));
        let first = ReplayBody::shared(shared.clone());
        (
            Replay {
                shared: Some(shared),
            },
            first,
        )
    }

    /// Why the body cannot be sent again, if it cannot.
    pub(crate) fn obstacle(&self) -> Option<Obstacle> {
        let shared = self.shared.as_ref()?;
        let shared = lock(shared);
        if shared.failed {
            Some(Obstacle::Failed)
        } else if shared.over_limit {
            Some(Obstacle::TooLarge(shared.limit))
        } else {
            None
        }
    }

    /// The body of the next attempt.
    pub(crate) fn next(&self) -> ReplayBody<B> {
        match &self.shared {
            None => ReplayBody::empty(),
            Some(shared) => ReplayBody::shared(shared.clone()),
        }
    }
}

/// Why a body cannot be replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Obstacle {
    TooLarge(usize),
    Failed,
}

fn lock<B>(shared: &Mutex<Shared<B>>) -> MutexGuard<'_, Shared<B>> {
    // A panic while the lock was held leaves nothing half-done that matters here.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The body of one attempt: see the [module docs](self).
pub struct ReplayBody<B> {
    shared: Option<Arc<Mutex<Shared<B>>>>,
    id: u64,
    /// The next chunk to replay.
    position: usize,
    /// Bytes this attempt has sent.
    sent: u64,
    trailers_sent: bool,
}

impl<B> ReplayBody<B> {
    fn empty() -> ReplayBody<B> {
        ReplayBody {
            shared: None,
            id: 0,
            position: 0,
            sent: 0,
            trailers_sent: false,
        }
    }

    fn shared(shared: Arc<Mutex<Shared<B>>>) -> ReplayBody<B> {
        let id = {
            let mut state = lock(&shared);
            state.next_id += 1;
            state.next_id
        };
        ReplayBody {
            shared: Some(shared),
            id,
            position: 0,
            sent: 0,
            trailers_sent: false,
        }
    }
}

impl<B> Body for ReplayBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        let Some(shared) = &this.shared else {
            return Poll::Ready(None);
        };
        let mut shared = lock(shared);
        // First what earlier attempts read and kept.
        if let Some(chunk) = shared.chunks.get(this.position).cloned() {
            this.position += 1;
            this.sent += chunk.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        // Then the rest of the original, which only one body may read once the
        // limit is passed, and none once reading it failed: any other body would
        // send the request truncated.
        if shared.failed || (shared.over_limit && shared.owner != Some(this.id)) {
            return Poll::Ready(Some(Err(Error::new(
                Class::Transport(Transport::Other),
                "the request body can no longer be sent in full",
            ))));
        }
        let Some(rest) = shared.rest.as_mut() else {
            return Poll::Ready(match shared.trailers.clone() {
                Some(trailers) if !this.trailers_sent => {
                    this.trailers_sent = true;
                    Some(Ok(Frame::trailers(trailers)))
                }
                _ => None,
            });
        };
        let polled = rest.as_mut().poll_frame(cx);
        if polled.is_pending() {
            if !shared.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                shared.waiters.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        for waiter in shared.waiters.drain(..) {
            if !waiter.will_wake(cx.waker()) {
                waiter.wake();
            }
        }
        match polled {
            Poll::Pending => unreachable!("handled above"),
            Poll::Ready(None) => {
                shared.rest = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(err))) => {
                shared.failed = true;
                shared.rest = None;
                Poll::Ready(Some(Err(Error::wrap(err))))
            }
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    let chunk = data.copy_to_bytes(data.remaining());
                    this.sent += chunk.len() as u64;
                    if !shared.over_limit {
                        if shared.kept + chunk.len() > shared.limit {
                            // Too large to replay: stop keeping, free what was
                            // kept; this body alone goes on.
                            shared.over_limit = true;
                            shared.owner = Some(this.id);
                            shared.chunks = Vec::new();
                        } else {
                            shared.kept += chunk.len();
                            shared.chunks.push(chunk.clone());
                            this.position += 1;
                        }
                    }
                    Poll::Ready(Some(Ok(Frame::data(chunk))))
                }
                Err(frame) => {
                    let trailers = frame.into_trailers().ok();
                    shared.trailers.clone_from(&trailers);
                    shared.rest = None;
                    this.trailers_sent = true;
                    Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t))))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        let Some(shared) = &self.shared else {
            return true;
        };
        let shared = lock(shared);
        shared.rest.is_none()
            && self.position >= shared.chunks.len()
            && (shared.trailers.is_none() || self.trailers_sent)
    }

    fn size_hint(&self) -> SizeHint {
        let Some(shared) = &self.shared else {
            return SizeHint::with_exact(0);
        };
        let hint = &lock(shared).hint;
        match hint.exact() {
            Some(total) => SizeHint::with_exact(total.saturating_sub(self.sent)),
            None => SizeHint::default(),
        }
    }
}

impl<B> fmt::Debug for ReplayBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayBody")
            .field("replayable", &self.shared.is_some())
            .field("position", &self.position)
            .field("sent", &self.sent)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    fn chunks(parts: &[&'static [u8]]) -> impl Body<Data = Bytes, Error = std::io::Error> {
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p))))
            .collect();
        StreamBody::new(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn every_attempt_sends_the_same_bytes() {
        let (replay, first) = Replay::new(chunks(&[b"hello ", b"wor", b"ld"]), 1024);
        assert_eq!(first.collect().await.unwrap().to_bytes(), "hello world");
        assert_eq!(replay.obstacle(), None);
        assert_eq!(
            replay.next().collect().await.unwrap().to_bytes(),
            "hello world"
        );
        assert_eq!(
            replay.next().collect().await.unwrap().to_bytes(),
            "hello world"
        );
    }

    #[tokio::test]
    async fn a_retry_goes_on_where_a_partial_first_attempt_stopped() {
        let (replay, mut first) = Replay::new(chunks(&[b"a", b"b", b"c"]), 1024);
        let frame = first.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "a");
        drop(first);
        assert_eq!(replay.next().collect().await.unwrap().to_bytes(), "abc");
    }

    #[tokio::test]
    async fn past_the_limit_the_body_is_sent_once_and_not_replayable() {
        let (replay, first) = Replay::new(chunks(&[b"0123", b"4567", b"89"]), 6);
        assert_eq!(first.collect().await.unwrap().to_bytes(), "0123456789");
        assert_eq!(replay.obstacle(), Some(Obstacle::TooLarge(6)));
    }

    #[tokio::test]
    async fn a_second_reader_after_the_limit_fails_instead_of_truncating() {
        let (replay, mut first) = Replay::new(chunks(&[b"0123", b"4567", b"89"]), 6);
        // A retry's body is made while the first attempt is still reading.
        let frame = first.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "0123");
        let mut second = replay.next();
        // The first attempt goes past the limit...
        assert_eq!(
            first.frame().await.unwrap().unwrap().into_data().unwrap(),
            "4567"
        );
        // ...so the second cannot be sent in full: it fails rather than skip bytes.
        assert!(second.frame().await.unwrap().is_err());
        assert_eq!(
            first.frame().await.unwrap().unwrap().into_data().unwrap(),
            "89"
        );
    }

    #[tokio::test]
    async fn exact_size_hints_survive_replay() {
        let (replay, first) = Replay::new(Full::new(Bytes::from_static(b"12345")), 1024);
        assert_eq!(first.size_hint().exact(), Some(5));
        first.collect().await.unwrap();
        assert_eq!(replay.next().size_hint().exact(), Some(5));
    }

    #[tokio::test]
    async fn empty_bodies_need_no_buffer() {
        let (replay, first) = Replay::new(http_body_util::Empty::<Bytes>::new(), 1024);
        assert!(first.is_end_stream());
        assert!(replay.shared.is_none());
        assert!(replay.next().is_end_stream());
    }
}
