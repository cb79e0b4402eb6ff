//! The one place that records how a request ended: its audit event, its metrics and, for
//! a failure of the server's own (5xx), a log line with the error's cause chain.
//!
//! As in axum's error-handling example, handlers do not record anything themselves: they
//! answer a [`Recorded`] (their result and an [`Outcome`] of what they learnt on the way),
//! whose response carries the outcome, error included, in its extensions; the
//! [`RecordLayer`] takes it out and writes everything once. A route whose response carries no
//! outcome (health checks, fallbacks) is not recorded.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use blindcast_keys_core::lease::{LeaseId, ViewerId};
use blindcast_keys_core::{ContentId, ErrorChain, KeyVersion};
use http::Extensions;

use tower::{Layer, Service};

use crate::audit;
use crate::error::ApiError;
use crate::state::AppState;

/// Which kind of route answered: decides the audit event and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `GET /keys/...`: one key.
    Key,
    /// A lease route: `create`, `renew` or `release` (the metrics' `operation` label).
    Lease(&'static str),
    /// `POST /presign`.
    #[cfg_attr(not(feature = "presign"), allow(dead_code))]
    Presign,
    /// `POST /speke/v1` or `/speke/v2`.
    #[cfg_attr(not(feature = "speke"), allow(dead_code))]
    Speke,
}

impl Route {
    /// The `operation` field of the error log.
    fn operation(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Lease(op) => op,
            Self::Presign => "presign",
            Self::Speke => "speke",
        }
    }
}

/// What a handler learnt about its request, filled in as it goes, so a refusal tells as
/// much as was known when it happened. Ids only: never a token, key, URL or credential.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    route: Route,
    /// The viewer (the publisher on `/presign`), once authenticated.
    pub(crate) viewer: Option<ViewerId>,
    pub(crate) content: Option<ContentId>,
    pub(crate) epoch: Option<u64>,
    /// The master-key version a key request named (`kv`, 1 when absent), once parsed.
    pub(crate) kv: Option<KeyVersion>,
    /// The lease a key request named; set just before the lease store checks it.
    pub(crate) lease: Option<LeaseId>,
    /// URLs presigned for upload and for download.
    pub(crate) puts: usize,
    pub(crate) gets: usize,
    /// Content keys a SPEKE request asked for, and their periods (the audit's `epochs`).
    pub(crate) speke_keys: usize,
    pub(crate) speke_epochs: Option<String>,
    /// The refusal, its sources kept for the log. Shared so the outcome can be a response
    /// extension (which must be `Clone`).
    error: Option<Arc<ApiError>>,
}

impl Outcome {
    pub(crate) fn new(route: Route) -> Self {
        Self {
            route,
            viewer: None,
            content: None,
            epoch: None,
            kv: None,
            lease: None,
            puts: 0,
            gets: 0,
            speke_keys: 0,
            speke_epochs: None,
            error: None,
        }
    }

    /// This outcome with the handler's result: the answer of a handler.
    pub(crate) fn answer<T>(self, result: Result<T, ApiError>) -> Recorded<T> {
        Recorded {
            outcome: self,
            result,
            spare: Extensions::new(),
        }
    }

    /// Writes the audit event, the metrics and the error log of a request that ended with
    /// `status` after `started`.
    fn write(&self, status: u16, started: Instant, state: &AppState) {
        let latency = started.elapsed();
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let refusal = self.error.as_deref().map(ApiError::code);
        let viewer = self.viewer.as_ref().map(ViewerId::as_str);
        let content = self.content.as_ref().map(ContentId::as_str);
        match self.route {
            Route::Key => {
                let ids = audit::KeyIds {
                    viewer,
                    content,
                    kv: self.kv.map(KeyVersion::get),
                    epoch: self.epoch,
                    lease: self.lease.as_ref().map(LeaseId::as_str),
                };
                audit::key(refusal, status, ids, latency_us);
            }
            Route::Presign => audit::presign(
                refusal, status, viewer, content, self.puts, self.gets, latency_us,
            ),
            Route::Speke => {
                let ids = audit::SpekeIds {
                    packager: viewer,
                    content,
                    kv: self.kv.map(KeyVersion::get),
                    keys: self.speke_keys,
                    epochs: self.speke_epochs.as_deref(),
                };
                audit::speke(refusal, status, ids, latency_us);
            }
            // Lease operations are counted, not audited: the keys they lead to are.
            Route::Lease(_) => {}
        }
        if let Some(metrics) = &state.metrics {
            match self.route {
                Route::Key => {
                    metrics.key_request(refusal, self.kv, latency);
                    // The lease check is a lease operation like the others, so a failing
                    // store shows in the same series on every route.
                    if self.lease.is_some() {
                        metrics.lease_op("check", status);
                    }
                }
                Route::Lease(op) => metrics.lease_op(op, status),
                Route::Presign | Route::Speke => {}
            }
        }
        if let Some(error) = self.error.as_deref()
            && error.status().is_server_error()
        {
            // The chain names the failing part (for a lease store: its driver's error);
            // errors of this workspace keep secrets out of their messages.
            tracing::warn!(
                operation = self.route.operation(),
                status,
                error = %ErrorChain(error),
                "request failed"
            );
        }
    }
}

/// A handler's answer: its result, and the outcome the [`RecordLayer`] writes.
#[derive(Debug)]
pub(crate) struct Recorded<T> {
    outcome: Outcome,
    result: Result<T, ApiError>,
    /// An emptied extension map to carry the outcome in, so the key route, the hot path,
    /// pays no new map per request (see [`reuse`](Self::reuse)).
    spare: Extensions,
}

impl<T> Recorded<T> {
    /// Carries the outcome in `extensions` (the request's, whose map axum has already
    /// allocated for the path parameters), emptied, instead of a new map.
    pub(crate) fn reuse(mut self, mut extensions: Extensions) -> Self {
        extensions.clear();
        self.spare = extensions;
        self
    }
}

impl<T: IntoResponse> IntoResponse for Recorded<T> {
    fn into_response(self) -> Response {
        let Self {
            mut outcome,
            result,
            spare,
        } = self;
        let mut response = match result {
            Ok(answer) => answer.into_response(),
            Err(error) => {
                let response = error.to_response();
                outcome.error = Some(Arc::new(error));
                response
            }
        };
        let extensions = response.extensions_mut();
        if extensions.is_empty() {
            *extensions = spare;
        }
        extensions.insert(outcome);
        response
    }
}

/// The layer that records outcomes, put on each recorded handler with `Handler::layer`.
/// A plain tower layer with an unboxed future: it adds no heap allocation per request,
/// where `middleware::from_fn` over `route_layer` added 11 (its boxed `Next` and future,
/// and each route boxed once more).
#[derive(Debug, Clone)]
pub(crate) struct RecordLayer(pub(crate) Arc<AppState>);

impl<S> Layer<S> for RecordLayer {
    type Service = Record<S>;

    fn layer(&self, inner: S) -> Record<S> {
        Record {
            inner,
            state: Arc::clone(&self.0),
        }
    }
}

/// The service of [`RecordLayer`].
#[derive(Debug, Clone)]
pub(crate) struct Record<S> {
    inner: S,
    state: Arc<AppState>,
}

impl<S> Service<Request> for Record<S>
where
    S: Service<Request, Response = Response>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Recording<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Recording {
            inner: self.inner.call(request),
            started: Instant::now(),
            state: Arc::clone(&self.state),
        }
    }
}

/// Runs the route, then writes the outcome its response carries (and removes it, so it
/// never leaves the router).
#[derive(Debug)]
pub(crate) struct Recording<F> {
    inner: F,
    started: Instant,
    state: Arc<AppState>,
}

impl<F, E> Future for Recording<F>
where
    F: Future<Output = Result<Response, E>> + Unpin,
{
    type Output = Result<Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut response = std::task::ready!(Pin::new(&mut self.inner).poll(cx))?;
        if let Some(outcome) = response.extensions_mut().remove::<Outcome>() {
            outcome.write(response.status().as_u16(), self.started, &self.state);
        }
        Poll::Ready(Ok(response))
    }
}
