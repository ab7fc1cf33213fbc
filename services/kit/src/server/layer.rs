//! The one tower layer around every hosted RPC: trace span (with the remote
//! parent from `traceparent`), authentication and the declared access rule,
//! and the Prometheus series. One layer, one boxed future per call.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body::Frame;
use tonic::body::Body;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::auth::{AccessRule, BearerToken, Caller, MethodPolicy, Principal, Verifier};
use crate::error::ServiceError;
use crate::telemetry::{MethodMetrics, extract_context};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Route {
    policy: Arc<MethodPolicy>,
    /// The target serving it (the trace's `service.name`).
    target: &'static str,
    /// The service's own verifier, or the server's.
    verifier: Verifier,
    /// Shared with each call's metered body: cloning the series themselves
    /// would copy 19 handles (and a Vec) per call.
    metrics: Arc<MethodMetrics>,
}

struct Shared {
    routes: HashMap<String, Route>,
}

/// Wraps the router; see the module docs.
#[derive(Clone)]
pub struct KitLayer {
    shared: Arc<Shared>,
}

impl KitLayer {
    /// A layer for the hosted RPCs in `policies`, whose tokens `verifier`
    /// checks except for the services in `own` (full gRPC service name →
    /// the service's own verifier); `targets` maps each full gRPC service
    /// name to the target serving it.
    pub fn new(
        policies: &crate::auth::PolicyTable,
        verifier: Verifier,
        own: HashMap<&str, Verifier>,
        targets: &HashMap<&str, &'static str>,
        metrics: &crate::telemetry::Metrics,
    ) -> Self {
        let routes = policies
            .paths()
            .filter_map(|path| {
                let policy = Arc::clone(policies.get(path)?);
                let metrics =
                    Arc::new(metrics.method(&policy.service, &policy.method, policy.kind));
                let verifier = own.get(&*policy.service).unwrap_or(&verifier).clone();
                let target = targets.get(&*policy.service).copied().unwrap_or_default();
                Some((
                    path.to_owned(),
                    Route {
                        policy,
                        target,
                        verifier,
                        metrics,
                    },
                ))
            })
            .collect();
        Self {
            shared: Arc::new(Shared { routes }),
        }
    }
}

impl<S> Layer<S> for KitLayer {
    type Service = KitService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        KitService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service produced by [`KitLayer`].
#[derive(Clone)]
pub struct KitService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Service<http::Request<Body>> for KitService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let Some((path, route)) = shared.routes.get_key_value(request.uri().path()) else {
                // Health, reflection, or an unknown path (the router answers UNIMPLEMENTED).
                return inner.call(request).await.map_err(Into::into);
            };
            route.metrics.started.inc();
            let started = Instant::now();
            // Fields known now are given as &str (no formatting machinery);
            // those known later go straight to the OpenTelemetry span
            // (`set_attribute`), since recording a tracing field makes the
            // JSON log layer re-parse and re-serialize the span's fields.
            let span = tracing::info_span!(
                "grpc",
                otel.name = path.trim_start_matches('/'),
                otel.kind = "server",
                rpc.system = "grpc",
                rpc.service = &*route.policy.service,
                rpc.method = &*route.policy.method,
                malha.target = route.target,
            );
            // Log lines ask OpenTelemetry for the trace id when written.
            let _ = span.set_parent(extract_context(request.headers()));
            let client = Arc::new(ClientWatch::default());
            let mut call = Pending {
                metrics: Some(Arc::clone(&route.metrics)),
                started,
                span: span.clone(),
                client: Arc::clone(&client),
            };
            let request = request.map(|body| {
                Body::new(WatchedBody {
                    inner: body,
                    client,
                })
            });

            async {
                let mut request = request;
                match authorize(&route.verifier, &route.policy, request.headers()).await {
                    Ok(Some((principal, token))) => {
                        tracing::Span::current()
                            .set_attribute("enduser.id", principal.subject.clone());
                        request.extensions_mut().insert(Caller(principal));
                        request.extensions_mut().insert(BearerToken(token));
                    }
                    Ok(None) => {}
                    Err(error) => {
                        let status = tonic::Status::from(error);
                        call.finish(status.code() as i32);
                        return Ok(status.into_http());
                    }
                }
                let response = inner.call(request).await.map_err(Into::into)?;
                if let Some(code) = grpc_status(response.headers()) {
                    // Trailers-only response (usually an error): done now.
                    call.finish(code);
                    return Ok(response);
                }
                Ok(response.map(|body| Body::new(MeteredBody { inner: body, call })))
            }
            .instrument(span)
            .await
        })
    }
}

const CANCELLED: i32 = tonic::Code::Cancelled as i32;

/// A call not yet counted. It is counted exactly once: by `finish`, or as
/// CANCELLED when dropped first (the client reset the stream or closed the
/// connection and the server dropped the call). A call whose request body
/// broke off is counted as CANCELLED whatever status tonic made of the read
/// error (UNKNOWN or INTERNAL), since no client is left to receive it.
struct Pending {
    metrics: Option<Arc<MethodMetrics>>,
    started: Instant,
    span: tracing::Span,
    client: Arc<ClientWatch>,
}

impl Pending {
    fn finish(&mut self, code: i32) {
        if let Some(metrics) = self.metrics.take() {
            let code = if self.client.gone.load(Ordering::Relaxed) {
                CANCELLED
            } else {
                code
            };
            self.span
                .set_attribute("rpc.grpc.status_code", i64::from(code));
            let elapsed = self.started.elapsed();
            // A line per call only when asked for (RUST_LOG=malha_kit=debug),
            // a child of the call's span (no enter/exit), so it carries the
            // trace id.
            tracing::debug!(
                parent: &self.span,
                grpc.code = code,
                elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                "rpc finished"
            );
            metrics.finish(code, elapsed.as_secs_f64());
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.finish(CANCELLED);
    }
}

/// Whether the caller went away while its request was being read.
#[derive(Default)]
struct ClientWatch {
    gone: AtomicBool,
}

/// The request body, watched for the client breaking off mid-request.
struct WatchedBody {
    inner: Body,
    client: Arc<ClientWatch>,
}

impl http_body::Body for WatchedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            self.client.gone.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    // UTF-8 validation is vectorised (HeaderValue::to_str checks byte by
    // byte); the token is verified or compared in full afterwards anyway.
    let value = std::str::from_utf8(headers.get(http::header::AUTHORIZATION)?.as_bytes()).ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

type Authorized = Option<(Arc<Principal>, Arc<str>)>;

/// Checks the RPC's declared rule. Deny by default: an RPC without a rule is
/// refused whoever calls it.
async fn authorize(
    verifier: &Verifier,
    policy: &MethodPolicy,
    headers: &http::HeaderMap,
) -> Result<Authorized, ServiceError> {
    let token = bearer(headers);
    match &policy.rule {
        None => Err(ServiceError::PermissionDenied(
            "this RPC declares no access rule".into(),
        )),
        Some(AccessRule::Public) => Ok(match token {
            // A public RPC still learns who calls it when the token is good.
            Some(token) => verifier.verify_shared(token).await.ok(),
            None => None,
        }),
        Some(_) => {
            let token = token.ok_or_else(|| {
                ServiceError::Unauthenticated("a bearer access token is required".into())
            })?;
            let (principal, token) = verifier
                .verify_shared(token)
                .await
                .map_err(|e| ServiceError::Unauthenticated(e.to_string()))?;
            if !policy.permits(&principal.roles) {
                return Err(ServiceError::PermissionDenied(format!(
                    "the caller's roles do not allow {}",
                    policy.method
                )));
            }
            Ok(Some((principal, token)))
        }
    }
}

/// A response body that counts the call when the trailers pass (or when the
/// client goes away first: `Pending`'s drop).
struct MeteredBody {
    inner: Body,
    call: Pending,
}

impl http_body::Body for MeteredBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    self.call.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => self.call.finish(tonic::Code::Internal as i32),
            Poll::Ready(None) => self.call.finish(tonic::Code::Unknown as i32),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
