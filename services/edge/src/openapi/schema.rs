//! JSON Schemas (OpenAPI 3.1) of messages and enums under the proto3 JSON
//! mapping the edge speaks: lowerCamelCase property names, 64-bit integers
//! as strings, enums as names, well-known types in their JSON form.
//! Messages and enums become components; well-known types are inlined.

use std::collections::BTreeMap;

use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Value, json};

use super::comments;

/// The `components.schemas` being built.
#[derive(Debug, Default)]
pub(crate) struct Schemas {
    components: BTreeMap<String, Value>,
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

impl Schemas {
    /// Every component schema referenced so far.
    pub(crate) fn into_components(self) -> serde_json::Map<String, Value> {
        self.components.into_iter().collect()
    }

    /// A schema for a value of `message`: a `$ref` to its component, or the
    /// inline JSON form of a well-known type.
    pub(crate) fn message(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(known) = well_known(message) {
            return known;
        }
        let name = message.full_name().to_owned();
        if !self.components.contains_key(&name) {
            // Placeholder first: recursive messages refer to themselves.
            self.components.insert(name.clone(), Value::Null);
            let schema = self.object(message, &[]);
            self.components.insert(name.clone(), schema);
        }
        reference(&name)
    }

    /// The object schema of `message` without the top-level fields in
    /// `exclude` (proto names), for request bodies that share fields with
    /// the path.
    pub(crate) fn object(&mut self, message: &MessageDescriptor, exclude: &[String]) -> Value {
        let mut properties = serde_json::Map::new();
        for field in message.fields() {
            if exclude.iter().any(|e| e == field.name()) {
                continue;
            }
            properties.insert(field.json_name().to_owned(), self.field(&field));
        }
        let mut schema = json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        });
        if let Some(text) = comments::leading(&message.parent_file(), message.path()) {
            schema["description"] = text.into();
        }
        schema
    }

    /// The schema of one field (a list, a map or a single value), with the
    /// field's comment as its description.
    pub(crate) fn field(&mut self, field: &FieldDescriptor) -> Value {
        let mut schema = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("a map field's kind is its entry message")
            };
            json!({
                "type": "object",
                "additionalProperties": self.kind(&entry.map_entry_value_field().kind()),
            })
        } else if field.is_list() {
            json!({ "type": "array", "items": self.kind(&field.kind()) })
        } else {
            self.kind(&field.kind())
        };
        if let Some(text) = comments::leading(&field.parent_file(), field.path())
            && let Value::Object(map) = &mut schema
        {
            map.insert("description".into(), text.into());
        }
        schema
    }

    /// The schema of a single value of `kind`.
    pub(crate) fn kind(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Double => json!({ "type": "number", "format": "double" }),
            Kind::Float => json!({ "type": "number", "format": "float" }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => json!({
                "type": "integer", "format": "int32",
                "minimum": i32::MIN, "maximum": i32::MAX,
            }),
            Kind::Uint32 | Kind::Fixed32 => json!({
                "type": "integer", "format": "int64",
                "minimum": 0, "maximum": u32::MAX,
            }),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({
                "type": "string", "format": "int64", "pattern": "^-?[0-9]{1,19}$",
            }),
            Kind::Uint64 | Kind::Fixed64 => json!({
                "type": "string", "format": "uint64", "pattern": "^[0-9]{1,20}$",
            }),
            Kind::Bool => json!({ "type": "boolean" }),
            Kind::String => json!({ "type": "string" }),
            Kind::Bytes => json!({
                "type": "string", "format": "byte", "contentEncoding": "base64",
            }),
            Kind::Message(message) => self.message(message),
            Kind::Enum(e) => self.enumeration(e),
        }
    }

    fn enumeration(&mut self, e: &EnumDescriptor) -> Value {
        let name = e.full_name().to_owned();
        if !self.components.contains_key(&name) {
            let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
            let mut schema = json!({ "type": "string", "enum": names });
            if let Some(text) = comments::leading(&e.parent_file(), e.path()) {
                schema["description"] = text.into();
            }
            self.components.insert(name.clone(), schema);
        }
        reference(&name)
    }
}

/// The JSON form of a well-known type, if `message` is one.
fn well_known(message: &MessageDescriptor) -> Option<Value> {
    match message.full_name() {
        "google.protobuf.Timestamp" => Some(json!({
            "type": "string", "format": "date-time",
            "description": "RFC 3339, e.g. 2026-01-02T03:04:05Z.",
        })),
        "google.protobuf.Duration" => Some(json!({
            "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$",
            "description": "Seconds with an `s` suffix, e.g. 1.5s.",
        })),
        "google.protobuf.FieldMask" => Some(json!({
            "type": "string",
            "description": "Comma-separated lowerCamelCase field paths.",
        })),
        "google.protobuf.Empty" => Some(json!({ "type": "object", "additionalProperties": false })),
        "google.protobuf.Struct" => Some(json!({ "type": "object" })),
        "google.protobuf.Value" => Some(json!({})),
        "google.protobuf.ListValue" => Some(json!({ "type": "array" })),
        "google.protobuf.NullValue" => Some(json!({ "type": "null" })),
        "google.protobuf.Any" => Some(json!({
            "type": "object",
            "properties": { "@type": { "type": "string" } },
            "required": ["@type"],
            "additionalProperties": true,
        })),
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
            Some(json!({ "type": "number" }))
        }
        "google.protobuf.Int32Value" => Some(json!({ "type": "integer", "format": "int32" })),
        "google.protobuf.UInt32Value" => Some(json!({ "type": "integer", "minimum": 0 })),
        "google.protobuf.Int64Value" => {
            Some(json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]{1,19}$" }))
        }
        "google.protobuf.UInt64Value" => {
            Some(json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]{1,20}$" }))
        }
        "google.protobuf.BoolValue" => Some(json!({ "type": "boolean" })),
        "google.protobuf.StringValue" => Some(json!({ "type": "string" })),
        "google.protobuf.BytesValue" => Some(json!({ "type": "string", "format": "byte" })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> &'static prost_reflect::DescriptorPool {
        crate::pool()
    }

    #[test]
    fn messages_map_to_proto3_json_schemas() {
        let mut schemas = Schemas::default();
        let token_pair = pool()
            .get_message_by_name("malha.identity.v1.TokenPair")
            .unwrap();
        assert_eq!(
            schemas.message(&token_pair),
            json!({"$ref": "#/components/schemas/malha.identity.v1.TokenPair"})
        );
        let components = schemas.into_components();
        let schema = &components["malha.identity.v1.TokenPair"];
        let properties = &schema["properties"];
        assert_eq!(properties["expiresIn"]["type"], "string");
        assert_eq!(properties["expiresIn"]["format"], "int64");
        assert_eq!(
            properties["expiresIn"]["description"],
            "Seconds until the access token expires."
        );
        assert_eq!(properties["refreshExpireTime"]["format"], "date-time");
        assert_eq!(properties["accessToken"]["type"], "string");
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["description"], "A freshly issued token pair.");
    }

    #[test]
    fn enums_are_named_and_json_names_are_used() {
        let mut schemas = Schemas::default();
        let person = pool()
            .get_message_by_name("malha.identity.v1.Person")
            .unwrap();
        schemas.message(&person);
        let jwk = pool().get_message_by_name("malha.identity.v1.Jwk").unwrap();
        schemas.message(&jwk);
        let components = schemas.into_components();
        assert_eq!(
            components["malha.identity.v1.PersonKind"]["enum"],
            json!([
                "PERSON_KIND_UNSPECIFIED",
                "PERSON_KIND_EMPLOYEE",
                "PERSON_KIND_ADMINISTRATOR"
            ])
        );
        assert_eq!(
            components["malha.identity.v1.Person"]["properties"]["kind"]["$ref"],
            "#/components/schemas/malha.identity.v1.PersonKind"
        );
        assert!(
            components["malha.identity.v1.Jwk"]["properties"]
                .get("use")
                .is_some()
        );
    }

    #[test]
    fn the_status_schema_has_typed_any_details() {
        let mut schemas = Schemas::default();
        let status = pool().get_message_by_name("google.rpc.Status").unwrap();
        schemas.message(&status);
        let components = schemas.into_components();
        let details = &components["google.rpc.Status"]["properties"]["details"];
        assert_eq!(details["type"], "array");
        assert_eq!(details["items"]["required"], json!(["@type"]));
        assert_eq!(
            components["google.rpc.Status"]["properties"]["code"]["type"],
            "integer"
        );
    }
}
