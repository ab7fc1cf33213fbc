//! Response message → JSON with the print options the Envoy edge uses
//! (lowerCamelCase names, int64 as strings, enums as names, default values
//! left out), optionally only the `response_body` field.

use prost_reflect::{DynamicMessage, ReflectMessage, SerializeOptions};

/// The JSON of `message`, or of its `response_body` field when the binding
/// names one; fields in declaration order, as Envoy prints them.
pub(crate) fn response_json(
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
}
