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

/// `INVALID_ARGUMENT` with a `google.rpc.BadRequest` naming every field, as
/// the kit's own errors carry it.
pub fn invalid_fields(violations: &crate::checks::Violations) -> Status {
    use crate::google::rpc;
    let fields: Vec<&str> = violations.0.iter().map(|v| v.field.as_str()).collect();
    let message = format!("invalid fields: {}", fields.join(", "));
    let bad_request = rpc::BadRequest {
        field_violations: violations
            .0
            .iter()
            .map(|v| rpc::bad_request::FieldViolation {
                field: v.field.clone(),
                description: v.description.clone(),
                ..Default::default()
            })
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
