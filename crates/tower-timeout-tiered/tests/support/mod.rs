//! Test fixtures shared by this crate's tests and benches.

#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

/// A response future that is ready at once, or pending once first (waking
/// itself), so that a timer really registers.
#[derive(Debug)]
pub struct Answer {
    pending_once: bool,
}

impl Future for Answer {
    type Output = Result<Response<()>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.pending_once {
            self.pending_once = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Ok(Response::new(())))
    }
}

/// An upstream whose answers are [`Answer`]s.
#[derive(Clone, Copy, Debug)]
pub struct Upstream {
    /// Whether each answer is pending once before it is ready.
    pub pending_once: bool,
}

impl Service<Request<()>> for Upstream {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Answer {
        Answer {
            pending_once: self.pending_once,
        }
    }
}
