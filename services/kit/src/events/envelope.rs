//! Sealing payloads into envelopes (with the current trace context) and
//! opening them again.

use prost::{Message, Name};

use super::Envelope;
use crate::telemetry::inject_current_context;

/// Wraps `payload` for `subject`, stamped with a new UUIDv7, the time, the
/// source service and the current span's W3C trace context.
pub fn seal<M: Message + Name>(source: &str, subject: &str, payload: &M) -> Envelope {
    let mut headers = http::HeaderMap::new();
    inject_current_context(&mut headers);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let now = chrono::Utc::now();
    Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: M::full_name(),
        source: source.to_owned(),
        time: Some(prost_types::Timestamp {
            seconds: now.timestamp(),
            nanos: i32::try_from(now.timestamp_subsec_nanos()).unwrap_or(0),
        }),
        subject: subject.to_owned(),
        traceparent: header("traceparent"),
        tracestate: header("tracestate"),
        payload: payload.encode_to_vec(),
    }
}

/// The payload of `envelope` as `M`; an error if it holds another type.
pub fn open<M: Message + Name + Default>(envelope: &Envelope) -> anyhow::Result<M> {
    anyhow::ensure!(
        envelope.r#type == M::full_name(),
        "envelope {} holds {}, not {}",
        envelope.id,
        envelope.r#type,
        M::full_name()
    );
    Ok(M::decode(envelope.payload.as_slice())?)
}

/// The payload as JSON, decoded with the contract's descriptors (for tools).
pub fn decode_payload(envelope: &Envelope) -> anyhow::Result<serde_json::Value> {
    let pool = crate::auth::rules::descriptor_pool();
    let descriptor = pool
        .get_message_by_name(&envelope.r#type)
        .ok_or_else(|| anyhow::anyhow!("unknown event type {}", envelope.r#type))?;
    let message = prost_reflect::DynamicMessage::decode(descriptor, envelope.payload.as_slice())?;
    Ok(serde_json::to_value(&message)?)
}

/// The remote parent context an envelope carries.
pub(super) fn parent_context(envelope: &Envelope) -> opentelemetry::Context {
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("traceparent", &envelope.traceparent),
        ("tracestate", &envelope.tracestate),
    ] {
        if let Ok(value) = http::HeaderValue::from_str(value)
            && !value.is_empty()
        {
            headers.insert(name, value);
        }
    }
    crate::telemetry::extract_context(&headers)
}
