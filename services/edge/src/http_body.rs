//! `google.api.HttpBody` replies answered as themselves, as Envoy's
//! transcoder does: the message's `content_type` becomes the response's
//! Content-Type and its `data` the raw body (a QR image, a CSV), instead of
//! a JSON rendering of the message. Any RPC returning `HttpBody` gets this;
//! nothing here names a service.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use prost_reflect::{DynamicMessage, ReflectMessage, Value};

/// The full name of the message answered raw.
pub(crate) const HTTP_BODY: &str = "google.api.HttpBody";

/// The raw HTTP response for `message` when it is an `HttpBody`.
pub(crate) fn response(message: &DynamicMessage) -> Option<Response> {
    if message.descriptor().full_name() != HTTP_BODY {
        return None;
    }
    let content_type = match message.get_field_by_name("content_type").as_deref() {
        Some(Value::String(text)) if !text.is_empty() => text.clone(),
        _ => "application/octet-stream".to_owned(),
    };
    let data = match message.get_field_by_name("data").as_deref() {
        Some(Value::Bytes(bytes)) => bytes.clone(),
        _ => bytes::Bytes::new(),
    };
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    Some(
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(data))
            .expect("a status, a valid header and a body build"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(name: &str) -> DynamicMessage {
        let pool = crate::pool();
        DynamicMessage::new(pool.get_message_by_name(name).expect("in the contract"))
    }

    #[tokio::test]
    async fn an_http_body_is_answered_with_its_content_type_and_raw_bytes() {
        let mut body = message(HTTP_BODY);
        body.set_field_by_name("content_type", Value::String("image/png".into()));
        body.set_field_by_name(
            "data",
            Value::Bytes(bytes::Bytes::from_static(b"\x89PNG\r\n")),
        );
        let response = response(&body).expect("answered raw");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "image/png");
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"\x89PNG\r\n");
    }

    #[test]
    fn other_messages_and_bad_content_types_are_handled() {
        assert!(response(&message("google.rpc.Status")).is_none());
        let mut body = message(HTTP_BODY);
        body.set_field_by_name("content_type", Value::String("bad\nvalue".into()));
        let response = response(&body).unwrap();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/octet-stream"
        );
    }
}
