//! [`LambdaLayer`]: the tower layer between `lambda_http` and the key router.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use http::{HeaderValue, Request, Response, header};
use tower::{Layer, Service};

use crate::path::{normalise_base_path, normalised_path, with_path};

/// Makes every Lambda front door look the same to the router, and every body survive the
/// trip back:
///
/// - **paths**: takes off the API Gateway stage that `lambda_http` leaves in front of the
///   path (HTTP API v2 on a named stage, REST API v1), using the event's request context,
///   and an optional base path (an API mapping key of a custom domain), so the router
///   always sees `/keys/...`;
/// - **bodies**: a response with a body and no `Content-Type` gets
///   `application/octet-stream`, so `lambda_http` sends it base64-encoded
///   (`isBase64Encoded: true`) instead of as text that would corrupt key bytes. (Keys
///   already carry that type; this guards custom routes.)
///
/// Requests that did not come from Lambda (no request context) pass unchanged, so the
/// same service also works behind `axum::serve` in tests.
#[derive(Debug, Clone, Default)]
pub struct LambdaLayer {
    base_path: Arc<str>,
}

impl LambdaLayer {
    /// The layer without a base path.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also takes `base_path` (such as `/v1`, the API mapping key of a custom domain) off
    /// the front of paths that start with it.
    #[must_use]
    pub fn base_path(mut self, base_path: &str) -> Self {
        self.base_path = normalise_base_path(base_path).into();
        self
    }
}

impl<S> Layer<S> for LambdaLayer {
    type Service = LambdaService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LambdaService {
            inner,
            base_path: Arc::clone(&self.base_path),
        }
    }
}

/// The service made by [`LambdaLayer`].
#[derive(Debug, Clone)]
pub struct LambdaService<S> {
    inner: S,
    base_path: Arc<str>,
}

impl<S, B> Service<Request<B>> for LambdaService<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if let Some(path) = normalised_path(request.uri(), request.extensions(), &self.base_path)
            && let Some(uri) = with_path(request.uri(), &path)
        {
            *request.uri_mut() = uri;
        }
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            if !response.headers().contains_key(header::CONTENT_TYPE)
                && !response.body().is_end_stream()
            {
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
            }
            Ok(response)
        })
    }
}
