//! The OpenAPI 3.1 document of the HTTP surface, generated from the same
//! bindings the edge routes with and from the `.proto` comments: one
//! operation per binding, path and query parameters, request and response
//! schemas, the bearer scheme on every RPC whose rule is not `public`, and
//! the `google.rpc.Status` body of every error.

mod comments;
mod schema;

use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};
use serde_json::{Value, json};

use crate::bindings::{self, Binding, BodyMapping};
use crate::request::is_string_like;
use malha_kit::auth::AccessRule;
use malha_kit::auth::rules::declared_rule;
use schema::Schemas;

/// The document for every binding in `pool`.
pub(crate) fn document(pool: &DescriptorPool, bindings: &[Binding]) -> Value {
    let mut schemas = Schemas::default();
    let status = pool
        .get_message_by_name("google.rpc.Status")
        .map(|m| schemas.message(&m))
        .unwrap_or_else(|| json!({ "type": "object" }));
    let mut paths = serde_json::Map::new();
    let mut tags = Vec::new();
    for binding in bindings {
        let service = binding.rpc.parent_service();
        if !tags.iter().any(|t: &Value| t["name"] == service.name()) {
            let mut tag = json!({ "name": service.name() });
            if let Some(text) = comments::leading(&service.parent_file(), service.path()) {
                tag["description"] = text.into();
            }
            tags.push(tag);
        }
        let item = paths
            .entry(binding.template.openapi_path())
            .or_insert_with(|| json!({}));
        let method = binding.http_method.as_str().to_ascii_lowercase();
        if item.get(&method).is_none() {
            item[method] = operation(&mut schemas, binding, &status);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Malha API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The JSON/HTTP surface of every Malha service, transcoded to gRPC with \
                the proto3 JSON mapping (lowerCamelCase names, 64-bit integers as strings, enums \
                as names, RFC 3339 timestamps). Errors carry a google.rpc.Status. Generated from \
                the .proto contract.",
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas.into_components(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from POST /v1/identity/login (or another token RPC).",
                },
            },
        },
    })
}

/// The document for the contract this binary was built with.
pub(crate) fn contract() -> anyhow::Result<Value> {
    let pool = crate::pool();
    Ok(document(pool, &bindings::all(pool)?))
}

fn operation(schemas: &mut Schemas, binding: &Binding, status: &Value) -> Value {
    let rpc = &binding.rpc;
    let service = rpc.parent_service();
    let mut op = json!({
        "operationId": if binding.index == 0 {
            format!("{}_{}", service.name(), rpc.name())
        } else {
            format!("{}_{}_{}", service.name(), rpc.name(), binding.index)
        },
        "tags": [service.name()],
        "x-grpc-method": binding.grpc_path(),
    });
    if let Some(text) = comments::leading(&rpc.parent_file(), rpc.path()) {
        op["summary"] = comments::summary(&text).into();
        op["description"] = text.into();
    }
    let input = rpc.input();
    let mut parameters = path_parameters(schemas, binding);
    let path_fields: Vec<String> = binding
        .template
        .variables
        .iter()
        .filter(|v| v.field_path.len() == 1)
        .map(|v| v.field_path[0].clone())
        .collect();
    match &binding.body {
        BodyMapping::None => {
            let mut exclude = path_fields.clone();
            exclude.extend(nested_path_prefixes(binding));
            query_parameters(
                schemas,
                &input,
                "",
                &exclude,
                &mut parameters,
                &mut Vec::new(),
            );
        }
        BodyMapping::Whole => {
            let body = if path_fields.is_empty() {
                schemas.message(&input)
            } else {
                schemas.object(&input, &path_fields)
            };
            op["requestBody"] = request_body(body);
        }
        BodyMapping::Field(name) => {
            let field = input
                .get_field_by_name(name)
                .expect("checked when the binding was read");
            op["requestBody"] = request_body(schemas.field(&field));
            let mut exclude = path_fields.clone();
            exclude.push(name.clone());
            query_parameters(
                schemas,
                &input,
                "",
                &exclude,
                &mut parameters,
                &mut Vec::new(),
            );
        }
    }
    if !parameters.is_empty() {
        op["parameters"] = parameters.into();
    }
    let output = match &binding.response_body {
        Some(name) => schemas.field(
            &rpc.output()
                .get_field_by_name(name)
                .expect("checked when the binding was read"),
        ),
        None => schemas.message(&rpc.output()),
    };
    let ok = if rpc.is_server_streaming() {
        json!({
            "description": "A stream of messages: by default one JSON array written as the \
                messages arrive (as Envoy's transcoder frames it; a failure after messages is a \
                last `{\"error\": Status}` element); Server-Sent Events with \
                `Accept: text/event-stream` (one `data:` event per message, `event: error` with \
                a google.rpc.Status on failure); NDJSON with `Accept: application/x-ndjson` \
                (one message per line, a failure as `{\"error\": Status}`). Each message has \
                the schema of x-message.",
            "content": {
                "application/json": { "schema": { "type": "array", "items": output.clone() } },
                "text/event-stream": { "schema": { "type": "string" } },
                "application/x-ndjson": { "schema": { "type": "string" } },
            },
            "x-message": output,
        })
    } else if rpc.output().full_name() == crate::http_body::HTTP_BODY {
        json!({
            "description": "The body itself (an image, a file), with the Content-Type the \
                service chose (google.api.HttpBody).",
            "content": { "*/*": { "schema": { "type": "string", "format": "binary" } } },
        })
    } else {
        json!({
            "description": "OK",
            "content": { "application/json": { "schema": output } },
        })
    };
    op["responses"] = json!({
        "200": ok,
        "default": {
            "description": "An error: the gRPC status as a google.rpc.Status (details as typed \
                Any JSON); the HTTP status follows the gRPC code as Envoy maps it.",
            "content": { "application/json": { "schema": status } },
        },
    });
    match declared_rule(rpc).ok().flatten() {
        Some(AccessRule::Public) => op["x-access"] = "public".into(),
        Some(AccessRule::Authenticated) => {
            op["x-access"] = "authenticated".into();
            op["security"] = json!([{ "bearerAuth": [] }]);
        }
        Some(AccessRule::Permission(permission)) => {
            op["x-access"] = format!("permission {permission}").into();
            op["security"] = json!([{ "bearerAuth": [] }]);
        }
        None => op["security"] = json!([{ "bearerAuth": [] }]),
    }
    op
}

fn request_body(schema: Value) -> Value {
    json!({
        "required": true,
        "content": { "application/json": { "schema": schema } },
    })
}

/// First components of nested path variables (`{shelf.name}` → `shelf`):
/// such messages are not offered as query parameters either.
fn nested_path_prefixes(binding: &Binding) -> Vec<String> {
    binding
        .template
        .variables
        .iter()
        .filter(|v| v.field_path.len() > 1)
        .map(|v| v.field_path[0].clone())
        .collect()
}

fn path_parameters(schemas: &mut Schemas, binding: &Binding) -> Vec<Value> {
    let input = binding.rpc.input();
    binding
        .template
        .variables
        .iter()
        .map(|variable| {
            let name = variable.openapi_name();
            let mut schema = bindings::resolve_path(&input, &variable.field_path)
                .map(|field| schemas.field(&field))
                .unwrap_or_else(|_| json!({ "type": "string" }));
            if schema["type"] == "string" {
                // An empty segment cannot reach the route.
                schema["minLength"] = 1.into();
            }
            let mut parameter = json!({
                "name": name,
                "in": "path",
                "required": true,
                "schema": schema,
            });
            let field = variable.field_path.join(".");
            parameter["description"] = match binding.template.variable_pattern(variable) {
                Some(pattern) => format!("The request field {field}; matches {pattern}."),
                None => format!("The request field {field}."),
            }
            .into();
            parameter
        })
        .collect()
}

/// Query parameters for every field of `message` (recursively, as `a.b`)
/// that a query string can set, except the top-level ones in `exclude`.
fn query_parameters(
    schemas: &mut Schemas,
    message: &MessageDescriptor,
    prefix: &str,
    exclude: &[String],
    out: &mut Vec<Value>,
    visiting: &mut Vec<String>,
) {
    visiting.push(message.full_name().to_owned());
    for field in message.fields() {
        if prefix.is_empty() && exclude.iter().any(|e| e == field.name()) {
            continue;
        }
        if field.is_map() {
            continue;
        }
        let name = format!("{prefix}{}", field.name());
        match field.kind() {
            Kind::Message(m) if !is_string_like(&m) => {
                if !field.is_list() && !visiting.iter().any(|v| v == m.full_name()) {
                    query_parameters(schemas, &m, &format!("{name}."), &[], out, visiting);
                }
            }
            _ => {
                let schema = schemas.field(&field);
                let mut parameter = json!({
                    "name": name,
                    "in": "query",
                    "required": false,
                    "schema": schema,
                });
                if field.is_list() {
                    parameter["style"] = "form".into();
                    parameter["explode"] = true.into();
                }
                out.push(parameter);
            }
        }
    }
    visiting.pop();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        contract().unwrap()
    }

    #[test]
    fn every_binding_is_an_operation() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.1.0");
        let pool = crate::pool();
        for binding in bindings::all(pool).unwrap() {
            let path = binding.template.openapi_path();
            let method = binding.http_method.as_str().to_ascii_lowercase();
            assert!(
                doc["paths"][&path][&method].is_object(),
                "{method} {path} is missing"
            );
        }
        let get_person = &doc["paths"]["/v1/identity/people/{person_id}"]["get"];
        assert_eq!(get_person["operationId"], "IdentityService_GetPerson");
        assert_eq!(get_person["summary"], "Reads one person.");
        assert_eq!(get_person["parameters"][0]["in"], "path");
        assert_eq!(get_person["parameters"][0]["name"], "person_id");
        assert_eq!(get_person["security"], json!([{ "bearerAuth": [] }]));
        assert_eq!(
            get_person["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/malha.identity.v1.GetPersonResponse"
        );
        assert_eq!(
            get_person["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/google.rpc.Status"
        );
    }

    #[test]
    fn public_rpcs_need_no_token_and_lists_take_query_parameters() {
        let doc = doc();
        let login = &doc["paths"]["/v1/identity/login"]["post"];
        assert!(login.get("security").is_none());
        assert_eq!(login["x-access"], "public");
        assert_eq!(
            login["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/malha.identity.v1.LoginRequest"
        );
        let list = &doc["paths"]["/v1/identity/users"]["get"];
        let names: Vec<&str> = list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["page_size", "page_token"]);
        assert!(doc["paths"]["/v1/identity/token:refresh"]["post"].is_object());
        assert_eq!(
            doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn bodies_leave_out_fields_bound_by_the_path() {
        let doc = doc();
        let set_roles = &doc["paths"]["/v1/identity/users/{user_id}/roles"]["put"];
        let body = &set_roles["requestBody"]["content"]["application/json"]["schema"];
        assert!(body["properties"].get("userId").is_none());
        assert_eq!(body["properties"]["roles"]["type"], "array");
    }

    #[test]
    fn every_reference_resolves() {
        let doc = doc();
        let text = doc.to_string();
        let schemas = &doc["components"]["schemas"];
        for piece in text.split("\"#/components/schemas/").skip(1) {
            let name = &piece[..piece.find('"').unwrap()];
            assert!(
                schemas[name].is_object(),
                "{name} is referenced but missing"
            );
        }
    }
}
