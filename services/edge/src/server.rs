//! The HTTP side: `/healthz`, `/readyz`, `/openapi.json`, and every other
//! request routed by the contract's bindings, transcoded to a gRPC call on
//! the upstream channel and back. Native gRPC requests (`application/grpc`)
//! are passed through unchanged to the upstream of their service, so one
//! address serves both, as Envoy does in the cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use prost_reflect::DescriptorPool;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tracing::Instrument as _;

use crate::codec::DynamicCodec;
use crate::router::Router;
use crate::status::{error_response, status_body};
use crate::stream::StreamFormat;
use crate::upstream::Channels;

/// The largest request body accepted (as the Envoy edge's default).
const MAX_BODY_BYTES: usize = 1 << 20;
/// How long a call waits for an upstream connection (every replica down or
/// none resolved yet) before it ends with UNAVAILABLE (503).
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// Unary calls that take longer end with DEADLINE_EXCEEDED (504).
const UNARY_DEADLINE: Duration = Duration::from_secs(60);
/// Request headers that travel to the service as gRPC metadata.
const FORWARDED: [&str; 6] = [
    "authorization",
    "traceparent",
    "tracestate",
    "x-request-id",
    "last-event-id",
    // Payment providers sign their webhooks with it (payments checks it).
    "x-signature",
];

pub(crate) struct Edge {
    pub(crate) router: Router,
    pub(crate) pool: DescriptorPool,
    pub(crate) upstreams: Channels,
    pub(crate) openapi: Bytes,
    /// The services' static pages.
    pub(crate) pages: axum::Router<Arc<Edge>>,
}

/// The axum app over `edge`.
pub(crate) fn app(edge: Arc<Edge>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route("/readyz", axum::routing::get(readyz))
        .route("/openapi.json", axum::routing::get(openapi))
        .merge(edge.pages.clone())
        .fallback(transcode)
        .with_state(edge)
}

async fn healthz() -> impl IntoResponse {
    json(StatusCode::OK, r#"{"status":"SERVING"}"#)
}

/// Ready when every upstream's overall `grpc.health.v1` status is SERVING.
async fn readyz(State(edge): State<Arc<Edge>>) -> impl IntoResponse {
    let checks = edge.upstreams.all().map(|channel| async move {
        let mut client = HealthClient::new(channel.clone());
        let check = client.check(HealthCheckRequest {
            service: String::new(),
        });
        match tokio::time::timeout(Duration::from_secs(2), check).await {
            Ok(Ok(response)) => ServingStatus::try_from(response.into_inner().status)
                .unwrap_or(ServingStatus::Unknown),
            _ => ServingStatus::Unknown,
        }
    });
    let status = futures::future::join_all(checks)
        .await
        .into_iter()
        .find(|status| *status != ServingStatus::Serving)
        .unwrap_or(ServingStatus::Serving);
    let code = if status == ServingStatus::Serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(
        code,
        serde_json::json!({ "status": status.as_str_name() }).to_string(),
    )
}

async fn openapi(State(edge): State<Arc<Edge>>) -> impl IntoResponse {
    json(StatusCode::OK, edge.openapi.clone())
}

fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

async fn transcode(State(edge): State<Arc<Edge>>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // The edge's server span: a child of the caller's `traceparent`, named
    // after the route once it is known, the parent of the upstream call.
    let span = tracing::info_span!(
        "edge",
        otel.name = tracing::field::Empty,
        otel.kind = "server",
        http.request.method = method.as_str(),
        url.path = path.as_str(),
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        malha.target = "edge",
    );
    malha_kit::telemetry::continue_trace(&span, request.headers());
    let response = if is_native_grpc(request.headers()) {
        pass_through(&edge, request).instrument(span.clone()).await
    } else {
        call(&edge, request).instrument(span.clone()).await
    };
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        tracing::warn!(parent: &span, %method, %path, status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "edge request failed");
    } else {
        tracing::debug!(parent: &span, %method, %path, status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "edge request");
    }
    response
}

/// `application/grpc` (and `+proto`, …), not gRPC-Web: a gRPC client talking
/// to the edge's address.
fn is_native_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/grpc") && !ct.starts_with("application/grpc-web")
        })
}

/// Forwards a native gRPC request, headers, body and trailers untouched, to
/// the upstream serving its service (`/<service>/<method>`). The service
/// checks the token, as it does for every call.
async fn pass_through(edge: &Edge, request: Request) -> Response {
    use tower::{Service as _, ServiceExt as _};
    let service = request
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut channel = edge.upstreams.for_service(&service).clone();
    let request = request.map(tonic::body::Body::new);
    let result = match tokio::time::timeout(READY_TIMEOUT, channel.ready()).await {
        Ok(Ok(ready)) => ready.call(request).await.map_err(|e| e.to_string()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no upstream connection within {READY_TIMEOUT:?}")),
    };
    match result {
        Ok(response) => response.map(Body::new),
        Err(e) => {
            tracing::warn!(error = %e, "upstream not ready");
            grpc_status_only(&unreachable())
        }
    }
}

/// A gRPC response with no message: status in the headers (trailers-only).
fn grpc_status_only(status: &tonic::Status) -> Response {
    let mut response = status.clone().into_http::<Body>();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    response
}

async fn call(edge: &Edge, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(routed) = edge.router.route(&parts.method, parts.uri.path()) else {
        let status = tonic::Status::not_found(format!(
            "no route for {} {}",
            parts.method,
            parts.uri.path()
        ));
        return error_response(&edge.pool, &status);
    };
    let binding = routed.binding;
    let route = binding.template.openapi_path();
    let span = tracing::Span::current();
    span.record("otel.name", format!("{} {route}", parts.method).as_str());
    span.record("http.route", route.as_str());
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let status = tonic::Status::resource_exhausted(format!(
                "the request body exceeds {MAX_BODY_BYTES} bytes"
            ));
            let mut response = error_response(&edge.pool, &status);
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return response;
        }
    };
    let message = match crate::request::build(binding, &routed.bindings, parts.uri.query(), &body) {
        Ok(message) => message,
        Err(status) => return error_response(&edge.pool, &status),
    };

    let mut grpc_request = tonic::Request::new(message);
    *grpc_request.metadata_mut() =
        tonic::metadata::MetadataMap::from_headers(forwarded(&parts.headers));
    let path = http::uri::PathAndQuery::try_from(binding.grpc_path())
        .expect("a service and method name make a valid path");
    let codec = DynamicCodec::new(binding.rpc.output());
    let service = binding.rpc.parent_service().full_name().to_owned();
    let mut grpc = tonic::client::Grpc::new(edge.upstreams.for_service(&service).clone());
    let ready = match tokio::time::timeout(READY_TIMEOUT, grpc.ready()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no upstream connection within {READY_TIMEOUT:?}")),
    };
    if let Err(e) = ready {
        tracing::warn!(error = %e, "upstream not ready");
        return error_response(&edge.pool, &unreachable());
    }

    if binding.rpc.is_server_streaming() {
        let format = StreamFormat::from_accept(
            parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
        );
        return match grpc
            .server_streaming(grpc_request, path, codec)
            .await
            .map_err(from_upstream)
        {
            Ok(response) => Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, format.content_type())
                .header(header::CACHE_CONTROL, "no-cache")
                // nginx and friends must not buffer the events.
                .header("x-accel-buffering", "no")
                .body(crate::stream::body(
                    format,
                    response.into_inner(),
                    binding.response_body.clone(),
                    edge.pool.clone(),
                ))
                .expect("a static response builds"),
            Err(status) => error_response(&edge.pool, &status),
        };
    }

    grpc_request.set_timeout(UNARY_DEADLINE);
    let result = tokio::time::timeout(UNARY_DEADLINE, grpc.unary(grpc_request, path, codec))
        .await
        .map(|answer| answer.map_err(from_upstream))
        .unwrap_or_else(|_| {
            Err(tonic::Status::deadline_exceeded(
                "the upstream call timed out",
            ))
        });
    match result {
        Ok(response) => {
            if let Some(raw) = crate::http_body::response(response.get_ref()) {
                return raw;
            }
            match crate::json::response_json(response.get_ref(), binding.response_body.as_deref()) {
                Ok(body) => json(StatusCode::OK, body),
                Err(e) => {
                    let status = tonic::Status::internal(format!("encoding the response: {e}"));
                    tracing::error!(error = %e, rpc = binding.rpc.full_name(), "response not encodable as JSON");
                    json(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        status_body(&edge.pool, &status),
                    )
                }
            }
        }
        Err(status) => error_response(&edge.pool, &status),
    }
}

/// What a client is told when the service cannot be reached (as Envoy's
/// local reply says it): the transport's reason is for the log only.
fn unreachable() -> tonic::Status {
    tonic::Status::unavailable("the service is unavailable")
}

/// A failure of the upstream call: the service's own status as it is, a
/// transport failure (no connection, a reset: a status with a source error)
/// as [`unreachable`].
fn from_upstream(status: tonic::Status) -> tonic::Status {
    if status.code() == tonic::Code::Unavailable
        && let Some(source) = std::error::Error::source(&status)
    {
        tracing::warn!(error = %source, "upstream unreachable");
        return unreachable();
    }
    status
}

/// The headers that become gRPC metadata; the trace context is the edge
/// span's (the current one) when there is one.
fn forwarded(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in FORWARDED {
        for value in headers.get_all(name) {
            out.append(name, value.clone());
        }
    }
    malha_kit::telemetry::inject_current_context(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_auth_and_trace_headers_are_forwarded() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer t"));
        headers.insert(
            "traceparent",
            HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        headers.insert("tracestate", HeaderValue::from_static("k=v"));
        headers.insert("cookie", HeaderValue::from_static("secret"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let out = forwarded(&headers);
        assert_eq!(out.len(), 3);
        assert_eq!(out["authorization"], "Bearer t");
        assert!(out.get("cookie").is_none());
        assert!(out.get("content-type").is_none());
    }
}
