//! HTTP request → request message: the body (`body: "*"` or one field), then
//! the query parameters, then the path variables (the path wins), with the
//! proto3 JSON mapping. Field names may be given in proto (`page_size`) or
//! JSON (`pageSize`) form; nested fields as `a.b`; repeated fields by
//! repeating the parameter.

use prost_reflect::{DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, Value};

use crate::bindings::{Binding, BodyMapping};
use crate::status::invalid_field;

/// Builds the request message of `binding` from the HTTP request parts.
pub(crate) fn build(
    binding: &Binding,
    path_bindings: &[(Vec<String>, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, tonic::Status> {
    let input = binding.rpc.input();
    let mut message = DynamicMessage::new(input.clone());
    let has_body = body.iter().any(|b| !b.is_ascii_whitespace());
    match (&binding.body, has_body) {
        (BodyMapping::Whole, true) => {
            message = parse_body(body, |json| {
                DynamicMessage::deserialize_with_options(input.clone(), json, &strict())
            })?;
        }
        (BodyMapping::Field(name), true) => {
            let json: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| invalid_field(name, &format!("the body is not JSON: {e}")))?;
            let field = input
                .get_field_by_name(name)
                .expect("checked when the binding was read");
            let value = field_value(&field, json).map_err(|e| invalid_field(name, &e))?;
            message.set_field(&field, value);
        }
        _ => {}
    }
    // Query parameters are refused in the words of Envoy's transcoder, which
    // the chart's Envoy turns into the same field violation.
    for (name, values) in parse_query(query.unwrap_or_default()) {
        let path = resolve_leaf(&input, &name).map_err(|e| invalid_field(&name, &e))?;
        let leaf = path.last().expect("a resolved path is not empty");
        let value = leaf_from_strings(leaf, &values)
            .map_err(|_| invalid_field(&name, &invalid_value(leaf, &values)))?;
        set_path(&mut message, &path, value);
    }
    for (field_path, text) in path_bindings {
        let name = field_path.join(".");
        let path = resolve_leaf(&input, &name).map_err(|e| invalid_field(&name, &e))?;
        let leaf = path.last().expect("a resolved path is not empty");
        let value = leaf_from_strings(leaf, std::slice::from_ref(text))
            .map_err(|e| invalid_field(&name, &e))?;
        set_path(&mut message, &path, value);
    }
    Ok(message)
}

fn strict() -> DeserializeOptions {
    DeserializeOptions::new().deny_unknown_fields(true)
}

fn parse_body(
    body: &[u8],
    parse: impl FnOnce(
        &mut serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
    ) -> Result<DynamicMessage, serde_json::Error>,
) -> Result<DynamicMessage, tonic::Status> {
    let mut json = serde_json::Deserializer::from_slice(body);
    let message = parse(&mut json).map_err(|e| invalid_field("body", &e.to_string()))?;
    json.end()
        .map_err(|e| invalid_field("body", &e.to_string()))?;
    Ok(message)
}

/// Query pairs grouped by name, in first-seen order (`+` is a space).
pub(crate) fn parse_query(query: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value.into_owned()),
            None => out.push((name.into_owned(), vec![value.into_owned()])),
        }
    }
    out
}

/// Resolves `a.b.c` (proto or JSON names) to the fields on the way. Every
/// step but the last must be a singular message; the last must be something
/// a string can set: a scalar, an enum, a list of those, or a well-known type
/// with a string JSON form.
pub(crate) fn resolve_leaf(
    message: &prost_reflect::MessageDescriptor,
    name: &str,
) -> Result<Vec<FieldDescriptor>, String> {
    let mut current = message.clone();
    let mut path = Vec::new();
    let parts: Vec<&str> = name.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let field = current
            .get_field_by_name(part)
            .or_else(|| current.get_field_by_json_name(part))
            .ok_or_else(|| format!("unknown field {part:?} in {}", current.full_name()))?;
        let last = i + 1 == parts.len();
        match field.kind() {
            _ if field.is_map() => return Err(format!("{part} is a map")),
            Kind::Message(m) if !last => {
                if field.is_list() || is_string_like(&m) {
                    return Err(format!("{part} has no subfields here"));
                }
                current = m;
            }
            Kind::Message(m) if !is_string_like(&m) => {
                return Err(format!(
                    "{part} is a message; set its fields as {part}.<field>"
                ));
            }
            _ if !last => return Err(format!("{part} has no subfields")),
            _ => {}
        }
        path.push(field);
    }
    Ok(path)
}

/// Well-known types whose JSON form is a string, number or bool.
pub(crate) fn is_string_like(message: &prost_reflect::MessageDescriptor) -> bool {
    matches!(
        message.full_name(),
        "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.FloatValue"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.Int32Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.BoolValue"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
    )
}

/// Why `texts` cannot be `field`'s value, as Envoy's transcoder says it:
/// `invalid value "abc" for type TYPE_INT32` (the first value that fails).
fn invalid_value(field: &FieldDescriptor, texts: &[String]) -> String {
    let kind = field.kind();
    let one = |text: &String| {
        string_to_json(&kind, text).is_ok_and(|json| {
            field_value(
                field,
                if field.is_list() {
                    vec![json].into()
                } else {
                    json
                },
            )
            .is_ok()
        })
    };
    let bad = texts.iter().find(|t| !one(t)).map_or("", String::as_str);
    let type_name = match kind {
        Kind::Double => "TYPE_DOUBLE",
        Kind::Float => "TYPE_FLOAT",
        Kind::Int64 => "TYPE_INT64",
        Kind::Uint64 => "TYPE_UINT64",
        Kind::Int32 => "TYPE_INT32",
        Kind::Fixed64 => "TYPE_FIXED64",
        Kind::Fixed32 => "TYPE_FIXED32",
        Kind::Bool => "TYPE_BOOL",
        Kind::String => "TYPE_STRING",
        Kind::Message(_) => "TYPE_MESSAGE",
        Kind::Bytes => "TYPE_BYTES",
        Kind::Uint32 => "TYPE_UINT32",
        Kind::Enum(_) => "TYPE_ENUM",
        Kind::Sfixed32 => "TYPE_SFIXED32",
        Kind::Sfixed64 => "TYPE_SFIXED64",
        Kind::Sint32 => "TYPE_SINT32",
        Kind::Sint64 => "TYPE_SINT64",
    };
    format!("invalid value {bad:?} for type {type_name}")
}

/// The JSON a query string stands for, for the proto3 JSON parser: numbers
/// stay strings (the mapping accepts `"10"`), bools and enum numbers convert.
fn string_to_json(kind: &Kind, text: &str) -> Result<serde_json::Value, String> {
    let boolean = |text: &str| match text {
        "true" => Ok(serde_json::Value::Bool(true)),
        "false" => Ok(serde_json::Value::Bool(false)),
        other => Err(format!("{other:?} is not true or false")),
    };
    match kind {
        Kind::Bool => boolean(text),
        Kind::Message(m) if m.full_name() == "google.protobuf.BoolValue" => boolean(text),
        Kind::Enum(_) => Ok(text
            .parse::<i32>()
            .map_or_else(|_| text.into(), serde_json::Value::from)),
        _ => Ok(text.into()),
    }
}

fn leaf_from_strings(field: &FieldDescriptor, texts: &[String]) -> Result<Value, String> {
    let kind = field.kind();
    let json = if field.is_list() {
        serde_json::Value::Array(
            texts
                .iter()
                .map(|t| string_to_json(&kind, t))
                .collect::<Result<_, _>>()?,
        )
    } else {
        // Repeating a singular parameter: the last one wins.
        string_to_json(&kind, texts.last().map_or("", String::as_str))?
    };
    field_value(field, json)
}

/// Parses `json` as the value of `field` with the proto3 JSON mapping.
fn field_value(field: &FieldDescriptor, json: serde_json::Value) -> Result<Value, String> {
    let mut wrapper = serde_json::Map::new();
    wrapper.insert(field.name().to_owned(), json);
    let parent = field.parent_message().clone();
    let message = DynamicMessage::deserialize_with_options(
        parent,
        serde_json::Value::Object(wrapper),
        &strict(),
    )
    .map_err(|e| e.to_string())?;
    Ok(message.get_field(field).into_owned())
}

fn set_path(message: &mut DynamicMessage, path: &[FieldDescriptor], value: Value) {
    match path {
        [leaf] => message.set_field(leaf, value),
        [first, rest @ ..] => {
            if let Value::Message(inner) = message.get_field_mut(first) {
                set_path(inner, rest, value);
            }
        }
        [] => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings;

    fn binding(rpc: &str) -> Binding {
        bindings::all(crate::pool())
            .unwrap()
            .into_iter()
            .find(|b| b.rpc.name() == rpc)
            .unwrap()
    }

    fn json(message: &DynamicMessage) -> serde_json::Value {
        serde_json::to_value(message).unwrap()
    }

    fn field(status: &tonic::Status) -> String {
        crate::status::status_json(crate::pool(), status)["details"][0]
            ["fieldViolations"][0]["field"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn description(status: &tonic::Status) -> String {
        crate::status::status_json(crate::pool(), status)["details"][0]["fieldViolations"][0]
            ["description"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn query_pairs_group_repeated_names_and_decode() {
        assert_eq!(
            parse_query("a=1&b=x+y&a=2&c=%2F"),
            vec![
                ("a".to_owned(), vec!["1".to_owned(), "2".to_owned()]),
                ("b".to_owned(), vec!["x y".to_owned()]),
                ("c".to_owned(), vec!["/".to_owned()]),
            ]
        );
        assert!(parse_query("").is_empty());
    }

    #[test]
    fn query_parameters_set_fields_by_proto_or_json_name() {
        let list = binding("ListUsers");
        let message = build(&list, &[], Some("page_size=10&pageToken=abc"), b"").unwrap();
        assert_eq!(
            json(&message),
            serde_json::json!({"pageSize": 10, "pageToken": "abc"})
        );
        let bad = build(&list, &[], Some("page_size=ten"), b"").unwrap_err();
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert_eq!(field(&bad), "page_size");
        // Envoy's transcoder's words (the chart's Envoy makes them a violation too).
        assert_eq!(
            description(&bad),
            r#"invalid value "ten" for type TYPE_INT32"#
        );
        let unknown = build(&list, &[], Some("nope=1"), b"").unwrap_err();
        assert_eq!(field(&unknown), "nope");
        assert_eq!(
            description(&unknown),
            r#"unknown field "nope" in malha.identity.v1.ListUsersRequest"#
        );
    }

    #[test]
    fn the_body_and_the_path_fill_the_message_and_the_path_wins() {
        let set_roles = binding("SetUserRoles");
        let message = build(
            &set_roles,
            &[(vec!["user_id".into()], "from-path".into())],
            None,
            br#"{"user_id": "from-body", "roles": ["admin", "employee"]}"#,
        )
        .unwrap();
        assert_eq!(
            json(&message),
            serde_json::json!({"userId": "from-path", "roles": ["admin", "employee"]})
        );
    }

    #[test]
    fn enums_accept_names_and_numbers_and_bad_bodies_are_invalid_arguments() {
        let create = binding("CreatePerson");
        let by_name = build(&create, &[], None, br#"{"kind": "PERSON_KIND_EMPLOYEE"}"#).unwrap();
        let by_number = build(&create, &[], None, br#"{"kind": 1}"#).unwrap();
        assert_eq!(json(&by_name), json(&by_number));
        for bad in [
            &br#"{"kind": "NOPE"}"#[..],
            br#"{"unknown": 1}"#,
            b"{",
            b"[]",
            br#"{"name": 1}"#,
            br#"{} {}"#,
        ] {
            let status = build(&create, &[], None, bad).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert_eq!(field(&status), "body");
        }
        // An empty body is an empty message.
        assert_eq!(
            json(&build(&create, &[], None, b"  ").unwrap()),
            serde_json::json!({})
        );
    }

    #[test]
    fn leaves_must_be_settable_from_a_string() {
        let pool = crate::pool();
        let response = pool
            .get_message_by_name("malha.identity.v1.LoginResponse")
            .unwrap();
        assert!(resolve_leaf(&response, "user.username").is_ok());
        assert!(resolve_leaf(&response, "tokens.expiresIn").is_ok());
        assert!(resolve_leaf(&response, "tokens.refresh_expire_time").is_ok());
        assert!(resolve_leaf(&response, "user").is_err());
        assert!(resolve_leaf(&response, "user.username.x").is_err());
        assert!(resolve_leaf(&response, "user.nope").is_err());
    }

    #[test]
    fn well_known_types_and_repeated_fields_parse_from_strings() {
        let pool = crate::pool();
        let response = pool
            .get_message_by_name("malha.identity.v1.LoginResponse")
            .unwrap();
        let mut message = DynamicMessage::new(response.clone());
        for (name, values) in parse_query(
            "tokens.refresh_expire_time=2026-01-02T03:04:05Z&tokens.expires_in=3600&user.roles=a&user.roles=b",
        ) {
            let path = resolve_leaf(&response, &name).unwrap();
            let value = leaf_from_strings(path.last().unwrap(), &values).unwrap();
            set_path(&mut message, &path, value);
        }
        assert_eq!(
            json(&message),
            serde_json::json!({
                "tokens": {"expiresIn": "3600", "refreshExpireTime": "2026-01-02T03:04:05Z"},
                "user": {"roles": ["a", "b"]}
            })
        );
    }
}
