//! A response body that classifies a gRPC call at the end of its stream.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::GrpcClassifier;
use crate::class::Class;
use crate::grpc::GRPC_STATUS;

pin_project! {
    /// Wraps a gRPC response body and reports the call's class once, when the stream
    /// ends: from the `grpc-status` trailer, from the error if the body fails, or as a
    /// broken response (`UNKNOWN`) if the stream ends without a status.
    ///
    /// A body dropped before its end reports nothing: the caller went away.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use http::HeaderMap;
    /// use http_body_util::{BodyExt, StreamBody};
    /// use http_body::Frame;
    /// use bytes::Bytes;
    /// use tower_error_class::{Class, ClassifyTrailers, GrpcClassifier};
    ///
    /// let mut trailers = HeaderMap::new();
    /// trailers.insert("grpc-status", "14".parse().unwrap());
    /// let frames = vec![
    ///     Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(b"\0\0\0\0\0"))),
    ///     Ok(Frame::trailers(trailers)),
    /// ];
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let body = ClassifyTrailers::new(
    ///     StreamBody::new(futures::stream::iter(frames)),
    ///     GrpcClassifier::new(),
    ///     move |class: Class| tx.send(class).unwrap(),
    /// );
    /// body.collect().await.unwrap();
    /// assert_eq!(rx.recv().unwrap().as_str(), "server_error");
    /// # });
    /// ```
    pub struct ClassifyTrailers<B, F> {
        #[pin]
        inner: B,
        classifier: GrpcClassifier,
        on_class: Option<F>,
    }
}

impl<B, F: FnOnce(Class)> ClassifyTrailers<B, F> {
    /// Wraps `inner`; `on_class` is called once with the call's class.
    pub fn new(inner: B, classifier: GrpcClassifier, on_class: F) -> ClassifyTrailers<B, F> {
        ClassifyTrailers {
            inner,
            classifier,
            on_class: Some(on_class),
        }
    }

    /// Wraps the body of a response. If its head already carries `grpc-status` (a
    /// trailers-only response), `on_class` is called at once with that class and the
    /// body passes through untouched.
    pub fn wrap_response(
        response: http::Response<B>,
        classifier: GrpcClassifier,
        on_class: F,
    ) -> http::Response<ClassifyTrailers<B, F>> {
        let (parts, inner) = response.into_parts();
        let on_class = if parts.headers.contains_key(GRPC_STATUS) {
            on_class(classifier.classify_head(parts.status, &parts.headers));
            None
        } else {
            Some(on_class)
        };
        http::Response::from_parts(
            parts,
            ClassifyTrailers {
                inner,
                classifier,
                on_class,
            },
        )
    }
}

impl<B, F> Body for ClassifyTrailers<B, F>
where
    B: Body,
    B::Error: StdError + 'static,
    F: FnOnce(Class),
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        let class = match &frame {
            Some(Ok(frame)) => frame
                .trailers_ref()
                .map(|trailers| this.classifier.classify_trailers(trailers)),
            Some(Err(err)) => Some(crate::classify_error(err)),
            None => Some(this.classifier.classify_trailers(&HeaderMap::new())),
        };
        if let (Some(class), Some(on_class)) = (class, this.on_class.take_if(|_| class.is_some())) {
            on_class(class);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: fmt::Debug, F> fmt::Debug for ClassifyTrailers<B, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClassifyTrailers")
            .field("inner", &self.inner)
            .field("classifier", &self.classifier)
            .field("reported", &self.on_class.is_none())
            .finish()
    }
}
