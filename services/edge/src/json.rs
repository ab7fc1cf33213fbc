//! Response message → JSON with the print options the Envoy edge uses
//! (lowerCamelCase names, int64 as strings, enums as names, default values
//! left out), optionally only the `response_body` field. A time JSON cannot
//! write (a `Timestamp` outside 0001..9999, stored before requests were
//! checked) is left out with a warning: one bad row never fails a whole list.

use prost_reflect::{DynamicMessage, ReflectMessage, SerializeOptions, Value};

use malha_kit::time::{MAX_TIMESTAMP_SECONDS, MIN_TIMESTAMP_SECONDS};

/// The JSON of `message`, or of its `response_body` field when the binding
/// names one; fields in declaration order, as Envoy prints them.
pub(crate) fn response_json(
    message: &DynamicMessage,
    response_body: Option<&str>,
) -> Result<String, serde_json::Error> {
    match encode(message, response_body) {
        Ok(json) => Ok(json),
        Err(error) => {
            let mut degraded = message.clone();
            let cleared = clear_unencodable_times(&mut degraded);
            if cleared == 0 {
                return Err(error);
            }
            tracing::warn!(
                message = message.descriptor().full_name(),
                cleared,
                error = %error,
                "times outside the Timestamp range left out of the response"
            );
            encode(&degraded, response_body)
        }
    }
}

fn encode(
    message: &DynamicMessage,
    response_body: Option<&str>,
) -> Result<String, serde_json::Error> {
    let options = SerializeOptions::new();
    let Some(field) = response_body.and_then(|name| message.descriptor().get_field_by_name(name))
    else {
        let mut out = Vec::new();
        message.serialize_with_options(&mut serde_json::Serializer::new(&mut out), &options)?;
        return Ok(String::from_utf8(out).expect("serde_json writes UTF-8"));
    };
    // Serialize the whole message with defaults so the field is always there.
    let full = message.serialize_with_options(
        serde_json::value::Serializer,
        &options.skip_default_fields(false),
    )?;
    Ok(full
        .get(field.json_name())
        .cloned()
        .unwrap_or(serde_json::Value::Null)
        .to_string())
}

/// Removes every `Timestamp` under `message` that JSON cannot write
/// (fields cleared, list elements and map entries dropped); how many.
fn clear_unencodable_times(message: &mut DynamicMessage) -> usize {
    let mut cleared = 0;
    let mut bad_fields = Vec::new();
    for (field, value) in message.fields_mut() {
        match value {
            Value::Message(inner) if unencodable_time(inner) => bad_fields.push(field),
            Value::Message(inner) => cleared += clear_unencodable_times(inner),
            Value::List(items) => {
                let before = items.len();
                items.retain(|v| !matches!(v, Value::Message(m) if unencodable_time(m)));
                cleared += before - items.len();
                for item in items {
                    if let Value::Message(inner) = item {
                        cleared += clear_unencodable_times(inner);
                    }
                }
            }
            Value::Map(entries) => {
                let before = entries.len();
                entries.retain(|_, v| !matches!(v, Value::Message(m) if unencodable_time(m)));
                cleared += before - entries.len();
                for value in entries.values_mut() {
                    if let Value::Message(inner) = value {
                        cleared += clear_unencodable_times(inner);
                    }
                }
            }
            _ => {}
        }
    }
    cleared += bad_fields.len();
    for field in bad_fields {
        message.clear_field(&field);
    }
    cleared
}

fn unencodable_time(message: &DynamicMessage) -> bool {
    if message.descriptor().full_name() != "google.protobuf.Timestamp" {
        return false;
    }
    let number = |name| message.get_field_by_name(name).map(|v| v.into_owned());
    let seconds = number("seconds").and_then(|v| v.as_i64()).unwrap_or(0);
    let nanos = number("nanos").and_then(|v| v.as_i32()).unwrap_or(0);
    !(MIN_TIMESTAMP_SECONDS..=MAX_TIMESTAMP_SECONDS).contains(&seconds)
        || !(0..=999_999_999).contains(&nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::Value;

    #[test]
    fn int64_as_strings_enums_as_names_timestamps_as_rfc3339() {
        let pool = crate::pool();
        let json = serde_json::json!({
            "tokens": {"accessToken": "t", "expiresIn": 3600, "refreshExpireTime": "2026-01-02T03:04:05Z"},
        });
        let descriptor = pool
            .get_message_by_name("malha.identity.v1.RegisterCustomerResponse")
            .unwrap();
        let mut message = DynamicMessage::deserialize(descriptor, json).unwrap();
        let customer = pool
            .get_message_by_name("malha.identity.v1.Customer")
            .unwrap();
        let mut c = DynamicMessage::new(customer);
        c.set_field_by_name("kind", Value::EnumNumber(2));
        c.set_field_by_name("cpf", Value::String(String::new()));
        message.set_field_by_name("customer", Value::Message(c));
        let text = response_json(&message, None).unwrap();
        assert!(
            text.starts_with(r#"{"customer":"#),
            "declaration order: {text}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            serde_json::json!({
                "customer": {"kind": "CUSTOMER_KIND_ANONYMOUS"},
                "tokens": {"accessToken": "t", "expiresIn": "3600", "refreshExpireTime": "2026-01-02T03:04:05Z"},
            })
        );
        let customer: serde_json::Value =
            serde_json::from_str(&response_json(&message, Some("customer")).unwrap()).unwrap();
        assert_eq!(customer["kind"], "CUSTOMER_KIND_ANONYMOUS");
    }

    #[test]
    fn a_time_json_cannot_write_is_left_out_not_the_whole_list() {
        let pool = crate::pool();
        let descriptor = pool
            .get_message_by_name("malha.projects.v1.ListProjectsResponse")
            .unwrap();
        let json = serde_json::json!({
            "projects": [
                {"name": "fine", "dueTime": "2026-01-02T03:04:05Z"},
                {"name": "year 10000", "dueTime": "2026-01-02T03:04:05Z"},
            ],
        });
        let mut message = DynamicMessage::deserialize(descriptor, json).unwrap();
        // As a service would send a row stored before requests were checked.
        let Some(Value::List(projects)) = message.get_field_by_name_mut("projects") else {
            panic!("projects")
        };
        let Value::Message(second) = &mut projects[1] else {
            panic!("a project")
        };
        let Some(Value::Message(due)) = second.get_field_by_name_mut("due_time") else {
            panic!("due_time")
        };
        due.set_field_by_name("seconds", Value::I64(MAX_TIMESTAMP_SECONDS + 1));

        let text = response_json(&message, None).expect("the list still encodes");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["projects"][0]["dueTime"], "2026-01-02T03:04:05Z");
        assert_eq!(json["projects"][1]["name"], "year 10000");
        assert!(json["projects"][1].get("dueTime").is_none(), "{json}");
    }
}
