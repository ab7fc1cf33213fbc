//! The other direction of the transcoder: the HTTP requests a JSON client
//! sends to reach an RPC with a given message (path variables from its
//! fields, the body as the binding says, the remaining fields as query
//! parameters). `malha fuzz` sends its random messages through the edge
//! with these.

use std::sync::OnceLock;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use prost_reflect::{DynamicMessage, MethodDescriptor, ReflectMessage};
use serde_json::{Map, Value as Json};

use crate::bindings::{self, Binding, BodyMapping};
use crate::template::Segment;

/// One HTTP request for one binding of an RPC.
#[derive(Debug, Clone)]
pub struct HttpCall {
    pub method: http::Method,
    /// `/v1/…?…`, percent-encoded.
    pub path_and_query: String,
    /// The JSON body, when the binding has one.
    pub body: Option<String>,
}

/// Characters kept as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Placeholder for a path variable whose field is unset or empty (an empty
/// segment would not route at all).
const UNSET: &str = "unset";

fn contract_bindings() -> &'static [Binding] {
    static BINDINGS: OnceLock<Vec<Binding>> = OnceLock::new();
    BINDINGS.get_or_init(|| {
        bindings::all(crate::pool()).expect("the contract's HTTP bindings are valid")
    })
}

/// The requests that carry `message` to `rpc`, one per HTTP binding (none
/// when the RPC has no `google.api.http` rule).
pub fn http_calls(rpc: &MethodDescriptor, message: &DynamicMessage) -> Vec<HttpCall> {
    contract_bindings()
        .iter()
        .filter(|b| b.rpc.full_name() == rpc.full_name())
        .map(|b| call(b, message))
        .collect()
}

fn call(binding: &Binding, message: &DynamicMessage) -> HttpCall {
    let mut fields = match serde_json::to_value(message) {
        Ok(Json::Object(map)) => map,
        _ => Map::new(),
    };
    let template = &binding.template;
    let mut path = String::new();
    let mut i = 0;
    while i < template.segments.len() {
        if let Some(variable) = template.variables.iter().find(|v| v.start == i) {
            let value = take_path(&mut fields, message, &variable.field_path);
            for segment in &template.segments[variable.start..variable.end] {
                path.push('/');
                match segment {
                    Segment::Literal(text) => path.push_str(text),
                    Segment::Single => path.extend(utf8_percent_encode(&value, SEGMENT)),
                    Segment::Multi => path.push_str(
                        &value
                            .split('/')
                            .map(|p| utf8_percent_encode(p, SEGMENT).to_string())
                            .collect::<Vec<_>>()
                            .join("/"),
                    ),
                }
            }
            i = variable.end;
            continue;
        }
        path.push('/');
        match &template.segments[i] {
            Segment::Literal(text) => path.push_str(text),
            Segment::Single | Segment::Multi => path.push_str(UNSET),
        }
        i += 1;
    }
    if let Some(verb) = &template.verb {
        path.push(':');
        path.push_str(verb);
    }
    let body = match &binding.body {
        BodyMapping::None => None,
        BodyMapping::Whole => Some(std::mem::take(&mut fields)),
        BodyMapping::Field(name) => {
            let json_name = message
                .descriptor()
                .get_field_by_name(name)
                .map(|f| f.json_name().to_owned())
                .unwrap_or_else(|| name.clone());
            Some(match fields.remove(&json_name) {
                Some(Json::Object(map)) => map,
                // A scalar body field: sent as it is, below.
                Some(other) => {
                    let mut wrapped = Map::new();
                    wrapped.insert(String::new(), other);
                    wrapped
                }
                None => Map::new(),
            })
        }
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in &fields {
        append_query(&mut query, name, value, 0);
    }
    let query = query.finish();
    if !query.is_empty() {
        path.push('?');
        path.push_str(&query);
    }
    let body = body.map(|mut map| match map.remove("") {
        Some(scalar) => scalar.to_string(),
        None => Json::Object(map).to_string(),
    });
    HttpCall {
        method: binding.http_method.clone(),
        path_and_query: path,
        body,
    }
}

/// The text of the field at `path` (removed from the JSON fields so it is
/// not sent twice), or [`UNSET`].
fn take_path(fields: &mut Map<String, Json>, message: &DynamicMessage, path: &[String]) -> String {
    let mut descriptor = message.descriptor();
    let mut names = Vec::with_capacity(path.len());
    for name in path {
        let Some(field) = descriptor.get_field_by_name(name) else {
            return UNSET.to_owned();
        };
        names.push(field.json_name().to_owned());
        if let prost_reflect::Kind::Message(inner) = field.kind() {
            descriptor = inner;
        }
    }
    let (last, parents) = names.split_last().expect("a field path has a name");
    let mut at = fields;
    for name in parents {
        match at.get_mut(name) {
            Some(Json::Object(inner)) => at = inner,
            _ => return UNSET.to_owned(),
        }
    }
    match at.remove(last) {
        Some(Json::String(text)) if !text.is_empty() => text,
        Some(Json::Number(n)) => n.to_string(),
        Some(Json::Bool(b)) => b.to_string(),
        _ => UNSET.to_owned(),
    }
}

/// `name=value` pairs for a JSON value: repeated scalars repeat the name,
/// nested messages use dotted names (two levels, as clients send them).
fn append_query(
    query: &mut form_urlencoded::Serializer<'_, String>,
    name: &str,
    value: &Json,
    depth: usize,
) {
    match value {
        Json::Null => {}
        Json::String(text) => {
            query.append_pair(name, text);
        }
        Json::Number(_) | Json::Bool(_) => {
            query.append_pair(name, &value.to_string());
        }
        Json::Array(items) => {
            for item in items {
                if !matches!(item, Json::Array(_) | Json::Object(_)) {
                    append_query(query, name, item, depth);
                }
            }
        }
        Json::Object(map) if depth < 2 => {
            for (inner, value) in map {
                append_query(query, &format!("{name}.{inner}"), value, depth + 1);
            }
        }
        Json::Object(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpc(name: &str) -> MethodDescriptor {
        crate::pool()
            .get_service_by_name(name.rsplit_once('.').unwrap().0)
            .unwrap()
            .methods()
            .find(|m| m.full_name() == name)
            .unwrap()
    }

    fn message(rpc: &MethodDescriptor, json: &str) -> DynamicMessage {
        let mut de = serde_json::Deserializer::from_str(json);
        DynamicMessage::deserialize(rpc.input(), &mut de).unwrap()
    }

    #[test]
    fn path_variables_come_from_the_message_and_leave_the_query() {
        let get = rpc("malha.projects.v1.ProjectsService.GetProject");
        let calls = http_calls(&get, &message(&get, r#"{"projectId": "a b/c"}"#));
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].method, http::Method::GET);
        assert_eq!(calls[0].path_and_query, "/v1/projects/a%20b%2Fc");
        assert!(calls[0].body.is_none());
        let unset = http_calls(&get, &message(&get, "{}"));
        assert_eq!(unset[0].path_and_query, "/v1/projects/unset");
    }

    #[test]
    fn a_whole_body_carries_the_fields_the_path_does_not() {
        let create = rpc("malha.projects.v1.ProjectsService.CreateProject");
        let calls = http_calls(
            &create,
            &message(
                &create,
                r#"{"project": {"name": "Casa"}, "requestId": "r-1"}"#,
            ),
        );
        assert_eq!(calls[0].method, http::Method::POST);
        assert_eq!(calls[0].path_and_query, "/v1/projects");
        let body: Json = serde_json::from_str(calls[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(body["project"]["name"], "Casa");
        assert_eq!(body["requestId"], "r-1");
    }

    #[test]
    fn without_a_body_the_other_fields_are_query_parameters() {
        let list = rpc("malha.projects.v1.ProjectsService.ListProjects");
        let calls = http_calls(
            &list,
            &message(&list, r#"{"pageSize": 5, "pageToken": "a&b"}"#),
        );
        let (path, query) = calls[0].path_and_query.split_once('?').unwrap();
        assert_eq!(path, "/v1/projects");
        let pairs = crate::request::parse_query(query);
        assert!(
            pairs.contains(&("pageSize".into(), vec!["5".into()])),
            "{pairs:?}"
        );
        assert!(
            pairs.contains(&("pageToken".into(), vec!["a&b".into()])),
            "{pairs:?}"
        );
    }

    #[test]
    fn every_calls_path_routes_back_to_its_rpc() {
        let router = crate::router::Router::new(contract_bindings().to_vec());
        for binding in contract_bindings() {
            let empty = DynamicMessage::new(binding.rpc.input());
            for call in http_calls(&binding.rpc, &empty) {
                let path = call.path_and_query.split('?').next().unwrap();
                let found = router.route(&call.method, path);
                assert!(found.is_some(), "{} {path} does not route", call.method);
            }
        }
    }
}
