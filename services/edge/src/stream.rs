//! Server-streaming RPCs over HTTP/1.1, framed by default as Envoy's
//! transcoder frames them: one JSON array (`application/json`), its elements
//! written as the messages arrive (`[m1` `,m2` ... `]`), a failure after some
//! messages as a last `{"error": Status}` element. On request, Server-Sent
//! Events (`Accept: text/event-stream`, what a browser's `EventSource` asks
//! for: one `data:` event per message, a final `event: error` carrying the
//! `google.rpc.Status`, comment heartbeats so idle proxies keep the
//! connection) or NDJSON (`Accept: application/x-ndjson`: one message per
//! line, a failure as a last `{"error": Status}` line).

use std::time::Duration;

use bytes::Bytes;
use prost_reflect::{DescriptorPool, DynamicMessage};
use tokio_stream::wrappers::ReceiverStream;

/// How a stream is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamFormat {
    JsonArray,
    Sse,
    Ndjson,
}

/// How often an idle SSE stream sends a comment line.
const HEARTBEAT: Duration = Duration::from_secs(15);

impl StreamFormat {
    /// SSE or NDJSON when the client asks for it, Envoy's JSON array otherwise.
    pub(crate) fn from_accept(accept: Option<&str>) -> Self {
        let asks = |wanted: &[&str]| {
            accept.is_some_and(|a| {
                a.split(',').any(|part| {
                    let media = part.split(';').next().unwrap_or("").trim();
                    wanted.iter().any(|w| media.eq_ignore_ascii_case(w))
                })
            })
        };
        if asks(&["text/event-stream"]) {
            Self::Sse
        } else if asks(&["application/x-ndjson", "application/jsonl"]) {
            Self::Ndjson
        } else {
            Self::JsonArray
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::JsonArray => "application/json",
            Self::Sse => "text/event-stream",
            Self::Ndjson => "application/x-ndjson",
        }
    }

    /// One message; `first` when none came before it.
    pub(crate) fn message(self, json: &str, first: bool) -> Bytes {
        match self {
            Self::JsonArray => Bytes::from(format!("{}{json}", if first { '[' } else { ',' })),
            Self::Sse => sse_event(None, json),
            Self::Ndjson => Bytes::from(format!("{json}\n")),
        }
    }

    /// The failure that ends the stream.
    pub(crate) fn error(self, status: &str, first: bool) -> Bytes {
        match self {
            Self::JsonArray => Bytes::from(format!(
                "{}{{\"error\":{status}}}]",
                if first { '[' } else { ',' }
            )),
            Self::Sse => sse_event(Some("error"), status),
            Self::Ndjson => Bytes::from(format!("{{\"error\":{status}}}\n")),
        }
    }

    /// What closes a stream that ended well, if the format needs it.
    pub(crate) fn end(self, first: bool) -> Option<Bytes> {
        match self {
            Self::JsonArray if first => Some(Bytes::from_static(b"[]")),
            Self::JsonArray => Some(Bytes::from_static(b"]")),
            Self::Sse | Self::Ndjson => None,
        }
    }

    /// A frame that keeps an idle connection open, if the format has one.
    pub(crate) fn heartbeat(self) -> Option<Bytes> {
        match self {
            Self::Sse => Some(Bytes::from_static(b": keep-alive\n\n")),
            Self::JsonArray | Self::Ndjson => None,
        }
    }
}

/// An SSE event; every line of `data` gets its own `data:` field.
fn sse_event(event: Option<&str>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 16);
    if let Some(event) = event {
        out.push_str("event: ");
        out.push_str(event);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// The HTTP body of a gRPC server stream. Dropping the body (the client
/// went away) drops the gRPC stream, which cancels the upstream call.
pub(crate) fn body(
    format: StreamFormat,
    mut messages: tonic::Streaming<DynamicMessage>,
    response_body: Option<String>,
    pool: DescriptorPool,
) -> axum::body::Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + HEARTBEAT;
        let mut heartbeat = tokio::time::interval_at(start, HEARTBEAT);
        let mut first = true;
        loop {
            let (frame, last) = tokio::select! {
                next = messages.message() => {
                    let step = frame_of(format, next, first, response_body.as_deref(), &pool);
                    first = false;
                    step
                }
                _ = heartbeat.tick() => match format.heartbeat() {
                    Some(frame) => (Some(frame), false),
                    None => continue,
                },
                () = tx.closed() => break,
            };
            if let Some(frame) = frame
                && tx.send(Ok(frame)).await.is_err()
            {
                break;
            }
            if last {
                break;
            }
        }
    });
    axum::body::Body::from_stream(ReceiverStream::new(rx))
}

/// The frame for one step of the gRPC stream (`first`: no frame before
/// it), and whether it was the last.
fn frame_of(
    format: StreamFormat,
    next: Result<Option<DynamicMessage>, tonic::Status>,
    first: bool,
    response_body: Option<&str>,
    pool: &DescriptorPool,
) -> (Option<Bytes>, bool) {
    let status = match next {
        Ok(None) => return (format.end(first), true),
        Ok(Some(message)) => match crate::json::response_json(&message, response_body) {
            Ok(json) => return (Some(format.message(&json, first)), false),
            Err(e) => tonic::Status::internal(format!("encoding the response: {e}")),
        },
        Err(status) => status,
    };
    let body = crate::status::status_body(pool, &status);
    (Some(format.error(&body, first)), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_envoys_json_array_written_as_messages_arrive() {
        let f = StreamFormat::JsonArray;
        assert_eq!(f.content_type(), "application/json");
        let mut body = Vec::new();
        body.extend_from_slice(&f.message(r#"{"a":1}"#, true));
        body.extend_from_slice(&f.message(r#"{"a":2}"#, false));
        body.extend_from_slice(&f.end(false).unwrap());
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed, serde_json::json!([{"a": 1}, {"a": 2}]));
        assert_eq!(f.end(true).unwrap(), Bytes::from_static(b"[]"));
        let failed = [f.message("{}", true), f.error(r#"{"code":14}"#, false)].concat();
        let parsed: serde_json::Value = serde_json::from_slice(&failed).unwrap();
        assert_eq!(parsed, serde_json::json!([{}, {"error": {"code": 14}}]));
        assert_eq!(f.heartbeat(), None);
    }

    #[test]
    fn sse_frames_are_data_events_and_errors_are_named_events() {
        let f = StreamFormat::Sse;
        assert_eq!(f.content_type(), "text/event-stream");
        assert_eq!(
            f.message(r#"{"a":1}"#, true),
            Bytes::from_static(b"data: {\"a\":1}\n\n")
        );
        assert_eq!(
            f.error(r#"{"code":14}"#, false),
            Bytes::from_static(b"event: error\ndata: {\"code\":14}\n\n")
        );
        assert_eq!(f.end(false), None);
        assert_eq!(
            f.heartbeat().unwrap(),
            Bytes::from_static(b": keep-alive\n\n")
        );
        assert_eq!(
            sse_event(None, "line one\nline two"),
            Bytes::from_static(b"data: line one\ndata: line two\n\n")
        );
    }

    #[test]
    fn ndjson_frames_are_lines() {
        let f = StreamFormat::Ndjson;
        assert_eq!(f.content_type(), "application/x-ndjson");
        assert_eq!(
            f.message(r#"{"a":"x\ny"}"#, false),
            Bytes::from_static(b"{\"a\":\"x\\ny\"}\n")
        );
        assert_eq!(
            f.error(r#"{"code":5}"#, true),
            Bytes::from_static(b"{\"error\":{\"code\":5}}\n")
        );
        assert_eq!(f.heartbeat(), None);
    }

    #[test]
    fn a_failure_is_the_last_frame() {
        let pool = crate::pool();
        let failed = Err(tonic::Status::unavailable("gone"));
        let (frame, last) = frame_of(StreamFormat::Sse, failed, true, None, pool);
        assert!(last);
        assert_eq!(
            frame.unwrap(),
            Bytes::from_static(b"event: error\ndata: {\"code\":14,\"message\":\"gone\"}\n\n")
        );
        assert_eq!(
            frame_of(StreamFormat::Ndjson, Ok(None), false, None, pool),
            (None, true)
        );
        let message = DynamicMessage::new(
            pool.get_message_by_name("malha.identity.v1.GetJwksResponse")
                .unwrap(),
        );
        let (frame, last) = frame_of(StreamFormat::Ndjson, Ok(Some(message)), true, None, pool);
        assert_eq!((frame.unwrap(), last), (Bytes::from_static(b"{}\n"), false));
    }

    #[test]
    fn the_accept_header_picks_the_format() {
        assert_eq!(StreamFormat::from_accept(None), StreamFormat::JsonArray);
        assert_eq!(
            StreamFormat::from_accept(Some("*/*")),
            StreamFormat::JsonArray
        );
        assert_eq!(
            StreamFormat::from_accept(Some("application/json")),
            StreamFormat::JsonArray
        );
        assert_eq!(
            StreamFormat::from_accept(Some("text/event-stream")),
            StreamFormat::Sse
        );
        assert_eq!(
            StreamFormat::from_accept(Some("application/json, application/x-ndjson;q=0.9")),
            StreamFormat::Ndjson
        );
    }
}
