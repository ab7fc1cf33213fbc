//! The HTTP side: `/healthz`, `/readyz`, `/openapi.json`, and every other
//! request routed by the contract's bindings, transcoded to a gRPC call on
//! the upstream channel and back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use prost_reflect::DescriptorPool;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::codec::DynamicCodec;
use crate::router::Router;
use crate::status::{error_response, status_body};
use crate::stream::StreamFormat;

/// The largest request body accepted (as the Envoy edge's default).
const MAX_BODY_BYTES: usize = 1 << 20;
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
    pub(crate) upstream: Channel,
    pub(crate) openapi: Bytes,
}

/// The axum app over `edge`.
pub(crate) fn app(edge: Arc<Edge>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route("/readyz", axum::routing::get(readyz))
        .route("/openapi.json", axum::routing::get(openapi))
        .fallback(transcode)
        .with_state(edge)
}

async fn healthz() -> impl IntoResponse {
    json(StatusCode::OK, r#"{"status":"SERVING"}"#)
}

/// Ready when the upstream's overall `grpc.health.v1` status is SERVING.
async fn readyz(State(edge): State<Arc<Edge>>) -> impl IntoResponse {
    let mut client = HealthClient::new(edge.upstream.clone());
    let check = client.check(HealthCheckRequest {
        service: String::new(),
    });
    let status = match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(response)) => {
            ServingStatus::try_from(response.into_inner().status).unwrap_or(ServingStatus::Unknown)
        }
        _ => ServingStatus::Unknown,
    };
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
    let response = call(&edge, request).await;
    let status = response.status();
    if status.is_server_error() {
        tracing::warn!(%method, %path, status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "edge request failed");
    } else {
        tracing::debug!(%method, %path, status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "edge request");
    }
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
    let mut grpc = tonic::client::Grpc::new(edge.upstream.clone());
    if let Err(e) = grpc.ready().await {
        let status = tonic::Status::unavailable(format!("upstream unavailable: {e}"));
        return error_response(&edge.pool, &status);
    }

    if binding.rpc.is_server_streaming() {
        let format = StreamFormat::from_accept(
            parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
        );
        return match grpc.server_streaming(grpc_request, path, codec).await {
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
        .unwrap_or_else(|_| {
            Err(tonic::Status::deadline_exceeded(
                "the upstream call timed out",
            ))
        });
    match result {
        Ok(response) => {
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

/// The headers that become gRPC metadata.
fn forwarded(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in FORWARDED {
        for value in headers.get_all(name) {
            out.append(name, value.clone());
        }
    }
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
