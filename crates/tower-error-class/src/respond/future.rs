use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::error::{BoxError, Error};

pin_project! {
    /// The response future of [`ErrorResponse`](super::ErrorResponse).
    #[derive(Debug)]
    pub struct ErrorResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
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

impl<F, B> ErrorResponseFuture<F, B> {
    pub(super) fn new(future: F) -> Self {
        ErrorResponseFuture {
            state: State::Inner { future },
        }
    }

    pub(super) fn ready(response: http::Response<B>) -> Self {
        ErrorResponseFuture {
            state: State::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for ErrorResponseFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
    B: From<String>,
{
    type Output = Result<http::Response<B>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => Poll::Ready(Ok(match ready!(future.poll(cx)) {
                Ok(response) => response,
                Err(err) => Error::wrap(err).to_response(),
            })),
            StateProj::Ready { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}
