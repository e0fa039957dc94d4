use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::Respond;

use crate::error::{BoxError, Error};

pin_project! {
    /// The response future of [`ErrorResponse`](super::ErrorResponse).
    #[derive(Debug)]
    pub struct ErrorResponseFuture<F, B, P> {
        #[pin]
        state: State<F, B>,
        _protocol: PhantomData<fn() -> P>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F, B> {
        Inner { #[pin] future: F },
        Ready { response: Option<http::Response<B>> },
    }
}

impl<F, B, P> ErrorResponseFuture<F, B, P> {
    pub(super) fn new(future: F) -> Self {
        ErrorResponseFuture {
            state: State::Inner { future },
            _protocol: PhantomData,
        }
    }

    pub(super) fn ready(response: http::Response<B>) -> Self {
        ErrorResponseFuture {
            state: State::Ready {
                response: Some(response),
            },
            _protocol: PhantomData,
        }
    }
}

impl<F, B, E, P> Future for ErrorResponseFuture<F, B, P>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
    P: Respond<B>,
{
    type Output = Result<http::Response<B>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => Poll::Ready(Ok(match ready!(future.poll(cx)) {
                Ok(response) => response,
                Err(err) => P::respond(&Error::wrap(err)),
            })),
            StateProj::Ready { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}
