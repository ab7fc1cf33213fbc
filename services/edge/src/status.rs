//! gRPC status → HTTP: the status code Envoy's transcoder answers with, and
//! the `google.rpc.Status` JSON body (details as `@type` Any JSON, decoded
//! with the descriptor pool), as `convert_grpc_status` produces it.

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions, Value};
use tonic::Code;

/// The HTTP status for a gRPC code, as Envoy maps it
/// (`Grpc::Utility::grpcToHttpStatus`).
pub fn http_status(code: Code) -> http::StatusCode {
    use http::StatusCode as H;
    match code {
        Code::Ok => H::OK,
        Code::Cancelled => H::from_u16(499).expect("499 is a valid status code"),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => H::BAD_REQUEST,
        Code::DeadlineExceeded => H::GATEWAY_TIMEOUT,
        Code::NotFound => H::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => H::CONFLICT,
        Code::PermissionDenied => H::FORBIDDEN,
        Code::Unauthenticated => H::UNAUTHORIZED,
        Code::ResourceExhausted => H::TOO_MANY_REQUESTS,
        Code::Unimplemented => H::NOT_IMPLEMENTED,
        Code::Unavailable => H::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => H::INTERNAL_SERVER_ERROR,
    }
}

/// The `google.rpc.Status` JSON of `status`: the details the server sent
/// (`grpc-status-details-bin`) when they decode, else code and message.
pub fn status_json(pool: &DescriptorPool, status: &tonic::Status) -> serde_json::Value {
    serde_json::from_str(&status_body(pool, status)).expect("status_body writes JSON")
}

/// [`status_json`] as text, fields in declaration order (code, message,
/// details) as Envoy prints them.
pub(crate) fn status_body(pool: &DescriptorPool, status: &tonic::Status) -> String {
    let code = status.code() as i32;
    let fallback = || {
        let mut body = serde_json::Map::new();
        body.insert("code".into(), code.into());
        if !status.message().is_empty() {
            body.insert("message".into(), status.message().into());
        }
        serde_json::Value::Object(body).to_string()
    };
    let Some(descriptor) = pool.get_message_by_name("google.rpc.Status") else {
        return fallback();
    };
    let mut message = if status.details().is_empty() {
        let mut message = DynamicMessage::new(descriptor);
        message.set_field_by_name("message", Value::String(status.message().to_owned()));
        message
    } else {
        match DynamicMessage::decode(descriptor, status.details()) {
            Ok(message) => message,
            Err(_) => return fallback(),
        }
    };
    // The header code is what the HTTP status was derived from.
    message.set_field_by_name("code", Value::I32(code));
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::new(&mut out);
    match message.serialize_with_options(&mut serializer, &SerializeOptions::new()) {
        Ok(()) => String::from_utf8(out).expect("serde_json writes UTF-8"),
        // An Any of a type the pool does not know: keep code and message.
        Err(_) => fallback(),
    }
}

/// An INVALID_ARGUMENT naming the offending request field, with a
/// `google.rpc.BadRequest` detail like the services send.
pub(crate) fn invalid_field(field: &str, description: &str) -> tonic::Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let mut details = ErrorDetails::new();
    details.add_bad_request_violation(field, description);
    tonic::Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid fields: {field}"),
        details,
    )
}

/// Renders an error answer.
pub(crate) fn error_response(
    pool: &DescriptorPool,
    status: &tonic::Status,
) -> http::Response<axum::body::Body> {
    let body = status_body(pool, status);
    http::Response::builder()
        .status(http_status(status.code()))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body))
        .expect("a static response builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_http_as_envoy_does() {
        let table = [
            (Code::Ok, 200),
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
            (Code::Unauthenticated, 401),
        ];
        for (code, http) in table {
            assert_eq!(http_status(code).as_u16(), http, "{code:?}");
        }
    }

    #[test]
    fn details_become_typed_json() {
        let pool = crate::pool();
        let status = invalid_field("page_size", "must be a number");
        let body = status_json(pool, &status);
        assert_eq!(body["code"], 3);
        assert_eq!(body["message"], "invalid fields: page_size");
        let detail = &body["details"][0];
        assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.BadRequest");
        assert_eq!(detail["fieldViolations"][0]["field"], "page_size");
        assert_eq!(
            detail["fieldViolations"][0]["description"],
            "must be a number"
        );
    }

    #[test]
    fn a_status_without_details_keeps_code_and_message() {
        let pool = crate::pool();
        let body = status_json(pool, &tonic::Status::not_found("person not found"));
        assert_eq!(
            body,
            serde_json::json!({"code": 5, "message": "person not found"})
        );
        let garbage = tonic::Status::with_details(Code::Internal, "x", vec![0xff, 0xff].into());
        assert_eq!(status_json(pool, &garbage)["code"], 13);
        assert_eq!(
            status_body(pool, &tonic::Status::not_found("x")),
            r#"{"code":5,"message":"x"}"#
        );
        let ordered = status_body(pool, &invalid_field("f", "d"));
        assert!(ordered.starts_with(r#"{"code":3,"message":"#), "{ordered}");
    }
}
