//! The HTTP bindings of the contract: every `google.api.http` rule (and its
//! `additional_bindings`) of every service in the descriptor pool, read at
//! run time. The router, the transcoder and OpenAPI all start from here.

use anyhow::{Context, bail};
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};

use crate::template::PathTemplate;

/// Where the HTTP body goes in the request message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyMapping {
    /// No body (GET, DELETE): every field not in the path is a query parameter.
    None,
    /// `body: "*"`: every field not in the path is in the body.
    Whole,
    /// `body: "field"`: the body is that top-level field; the rest are query parameters.
    Field(String),
}

/// One HTTP route of one RPC.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub(crate) http_method: http::Method,
    pub(crate) template: PathTemplate,
    pub(crate) body: BodyMapping,
    /// `response_body`: answer with this field of the response only.
    pub(crate) response_body: Option<String>,
    pub(crate) rpc: MethodDescriptor,
    /// 0 for the main rule, 1.. for `additional_bindings`.
    pub(crate) index: usize,
}

impl Binding {
    /// `/pkg.Service/Method`, the gRPC path of the RPC.
    pub(crate) fn grpc_path(&self) -> String {
        format!(
            "/{}/{}",
            self.rpc.parent_service().full_name(),
            self.rpc.name()
        )
    }
}

/// Every binding of every service in `pool`, in declaration order.
/// Client- and bidi-streaming RPCs are not transcoded (Envoy cannot either
/// in a useful way) and are left out.
pub(crate) fn all(pool: &DescriptorPool) -> anyhow::Result<Vec<Binding>> {
    let Some(extension) = pool.get_extension_by_name("google.api.http") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for service in pool.services() {
        for rpc in service.methods() {
            let options = rpc.options();
            if !options.has_extension(&extension) || rpc.is_client_streaming() {
                continue;
            }
            let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
                bail!("google.api.http on {} is not a message", rpc.full_name());
            };
            let mut rules = vec![rule.clone()];
            if let Some(Value::List(more)) = rule
                .get_field_by_name("additional_bindings")
                .map(std::borrow::Cow::into_owned)
            {
                rules.extend(more.into_iter().filter_map(|v| match v {
                    Value::Message(m) => Some(m),
                    _ => None,
                }));
            }
            for (index, rule) in rules.iter().enumerate() {
                let binding = binding(rule, &rpc, index)
                    .with_context(|| format!("google.api.http of {}", rpc.full_name()))?;
                out.push(binding);
            }
        }
    }
    Ok(out)
}

fn string_field(message: &DynamicMessage, name: &str) -> Option<String> {
    if !message.has_field_by_name(name) {
        return None;
    }
    message
        .get_field_by_name(name)
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|s| !s.is_empty())
}

fn binding(rule: &DynamicMessage, rpc: &MethodDescriptor, index: usize) -> anyhow::Result<Binding> {
    let mut pattern = None;
    for (name, method) in [
        ("get", http::Method::GET),
        ("put", http::Method::PUT),
        ("post", http::Method::POST),
        ("delete", http::Method::DELETE),
        ("patch", http::Method::PATCH),
    ] {
        if let Some(path) = string_field(rule, name) {
            pattern = Some((method, path));
        }
    }
    if pattern.is_none()
        && rule.has_field_by_name("custom")
        && let Some(Value::Message(custom)) = rule.get_field_by_name("custom").as_deref()
    {
        let kind = string_field(custom, "kind").context("custom pattern without kind")?;
        let path = string_field(custom, "path").context("custom pattern without path")?;
        pattern = Some((http::Method::from_bytes(kind.as_bytes())?, path));
    }
    let (http_method, path) = pattern.context("no HTTP method and path")?;
    let template = PathTemplate::parse(&path)?;
    let input = rpc.input();
    for variable in &template.variables {
        resolve_path(&input, &variable.field_path)
            .with_context(|| format!("path variable {}", variable.field_path.join(".")))?;
    }
    let body = match string_field(rule, "body").as_deref() {
        None => BodyMapping::None,
        Some("*") => BodyMapping::Whole,
        Some(field) => {
            input
                .get_field_by_name(field)
                .with_context(|| format!("body field {field} is not in {}", input.full_name()))?;
            BodyMapping::Field(field.to_owned())
        }
    };
    let response_body = string_field(rule, "response_body");
    if let Some(field) = &response_body {
        rpc.output()
            .get_field_by_name(field)
            .with_context(|| format!("response_body {field} is not in the response"))?;
    }
    Ok(Binding {
        http_method,
        template,
        body,
        response_body,
        rpc: rpc.clone(),
        index,
    })
}

/// Checks that `path` names singular message fields down to a leaf of `message`.
pub(crate) fn resolve_path(
    message: &prost_reflect::MessageDescriptor,
    path: &[String],
) -> anyhow::Result<prost_reflect::FieldDescriptor> {
    let mut current = message.clone();
    let mut field = None;
    for (i, name) in path.iter().enumerate() {
        let f = current
            .get_field_by_name(name)
            .or_else(|| current.get_field_by_json_name(name))
            .with_context(|| format!("no field {name} in {}", current.full_name()))?;
        if i + 1 < path.len() {
            match f.kind() {
                prost_reflect::Kind::Message(m) if !f.is_list() && !f.is_map() => current = m,
                _ => bail!("{name} is not a singular message field"),
            }
        }
        field = Some(f);
    }
    field.context("empty field path")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_identity_rpc_has_a_binding() {
        let bindings = all(crate::pool()).unwrap();
        let identity = crate::pool()
            .get_service_by_name("malha.identity.v1.IdentityService")
            .unwrap();
        for rpc in identity.methods() {
            assert!(
                bindings.iter().any(|b| b.rpc == rpc),
                "{} has no HTTP binding",
                rpc.full_name()
            );
        }
        let get_person = bindings
            .iter()
            .find(|b| b.rpc.name() == "GetPerson")
            .unwrap();
        assert_eq!(get_person.http_method, http::Method::GET);
        assert_eq!(get_person.body, BodyMapping::None);
        assert_eq!(
            get_person.grpc_path(),
            "/malha.identity.v1.IdentityService/GetPerson"
        );
        let set_roles = bindings
            .iter()
            .find(|b| b.rpc.name() == "SetUserRoles")
            .unwrap();
        assert_eq!(set_roles.http_method, http::Method::PUT);
        assert_eq!(set_roles.body, BodyMapping::Whole);
    }
}
