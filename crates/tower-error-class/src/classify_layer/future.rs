use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::{RecordClass, classify_into_error};
use crate::classify::Classifier;
use crate::error::{BoxError, Error};

pin_project! {
    /// The response future of [`Classify`](super::Classify).
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        classifier: C,
        record_success: bool,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(super) fn new(inner: F, classifier: C, record_success: bool) -> Self {
        ResponseFuture {
            inner,
            classifier,
            record_success,
        }
    }
}

impl<F, C, Res, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<Res, E>>,
    Res: RecordClass,
    E: Into<BoxError>,
    C: Classifier<Res>,
{
    type Output = Result<Res, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match ready!(this.inner.poll(cx)) {
            Ok(mut response) => {
                let class = this.classifier.classify(Ok(&response));
                if !class.is_success() || *this.record_success {
                    response.record_class(class);
                }
                Poll::Ready(Ok(response))
            }
            Err(err) => Poll::Ready(Err(classify_into_error(&*this.classifier, err))),
        }
    }
}
