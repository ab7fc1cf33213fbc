//! The codec every generated server decodes requests with: prost's, except
//! that a body that is not valid protobuf is the caller's fault
//! (`INVALID_ARGUMENT`, as connect-go answers, rather than tonic's
//! `INTERNAL`), and a decoded request must pass its field checks
//! ([`crate::checks`]) before any handler sees it. Clients keep plain
//! `tonic_prost::ProstCodec`: responses are not re-checked.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};

use crate::checks::CheckFields;

/// See the module docs.
#[derive(Debug, Clone)]
pub struct CheckedCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for CheckedCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for CheckedCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + CheckFields + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = tonic_prost::ProstEncoder<T>;
    type Decoder = CheckedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckedDecoder(PhantomData)
    }
}

/// Decodes and checks one request message.
#[derive(Debug)]
pub struct CheckedDecoder<U>(PhantomData<U>);

impl<U: Message + Default + CheckFields> Decoder for CheckedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let message = U::decode(src).map_err(|_| {
            Status::invalid_argument("the request body is not a valid protobuf message")
        })?;
        let violations = message.violations();
        if violations.is_empty() {
            Ok(Some(message))
        } else {
            Err(invalid_fields(&violations))
        }
    }
}

/// `INVALID_ARGUMENT` with a `google.rpc.BadRequest` naming every refused
/// field of a request.
pub fn invalid_fields(violations: &crate::checks::Violations) -> Status {
    bad_request(
        violations
            .0
            .iter()
            .map(|v| (v.field.as_str(), v.description.as_str())),
    )
}

/// Violations listed in one `INVALID_ARGUMENT`.
pub const MAX_VIOLATIONS: usize = 25;
/// A field path longer than this is clipped.
const MAX_FIELD_CHARS: usize = 120;
/// A description longer than this is clipped.
const MAX_DESCRIPTION_CHARS: usize = 200;

/// `INVALID_ARGUMENT` with a `google.rpc.BadRequest` of `(field,
/// description)` pairs, the one shape every service's field errors take.
///
/// The details travel in a trailer, and HTTP/2 clients reset a stream whose
/// headers exceed 16 KiB, which shows up as a protocol error instead of this
/// status. So at most [`MAX_VIOLATIONS`] violations are listed, each clipped,
/// and the message counts the rest. A 1000-item list with a bad field in
/// each was a protocol error before (found by `malha fuzz`).
pub fn bad_request<'a>(violations: impl IntoIterator<Item = (&'a str, &'a str)>) -> Status {
    use crate::google::rpc;
    let all: Vec<(&str, &str)> = violations.into_iter().collect();
    let shown = &all[..all.len().min(MAX_VIOLATIONS)];
    let fields: Vec<String> = shown
        .iter()
        .map(|(field, _)| clip(field, MAX_FIELD_CHARS))
        .collect();
    let more = match all.len() - shown.len() {
        0 => String::new(),
        n => format!(" (and {n} more)"),
    };
    let message = format!("invalid fields: {}{more}", fields.join(", "));
    let bad_request = rpc::BadRequest {
        field_violations: shown
            .iter()
            .zip(&fields)
            .map(
                |((_, description), field)| rpc::bad_request::FieldViolation {
                    field: field.clone(),
                    description: clip(description, MAX_DESCRIPTION_CHARS),
                    ..Default::default()
                },
            )
            .collect(),
    };
    let status = rpc::Status {
        code: Code::InvalidArgument as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.BadRequest".into(),
            value: bad_request.encode_to_vec(),
        }],
    };
    Status::with_details(
        Code::InvalidArgument,
        message,
        status.encode_to_vec().into(),
    )
}

fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}
