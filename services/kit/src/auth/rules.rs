//! Access rules, read from the contract: each RPC's `(malha.auth.v1.rule)`
//! option, joined with the serving service's own role→permission map.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, bail};
use prost_reflect::{DescriptorPool, MethodDescriptor, Value};

/// Who may call an RPC, as its `.proto` declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessRule {
    /// Anyone, token or not.
    Public,
    /// Any valid token.
    Authenticated,
    /// A token whose roles grant this permission in the serving service.
    Permission(String),
}

/// A service's own mapping from identity's roles to its permissions.
#[derive(Debug)]
pub struct RolePermissions {
    /// Full gRPC service name, e.g. `malha.identity.v1.IdentityService`.
    pub service: &'static str,
    /// `(role, permissions)`; the permission `"*"` grants all of this service's.
    pub grants: &'static [(&'static str, &'static [&'static str])],
}

impl RolePermissions {
    /// True when any of `roles` grants `permission`.
    pub fn allows(&self, roles: &[String], permission: &str) -> bool {
        self.grants.iter().any(|(role, perms)| {
            roles.iter().any(|r| r == role) && perms.iter().any(|p| *p == "*" || *p == permission)
        })
    }
}

/// The policy of one hosted RPC.
#[derive(Debug)]
pub struct MethodPolicy {
    /// Full service name, e.g. `malha.identity.v1.IdentityService`.
    pub service: Arc<str>,
    /// Method name, e.g. `Login`.
    pub method: Arc<str>,
    /// `unary`, `server_stream`, `client_stream` or `bidi_stream`.
    pub kind: &'static str,
    /// The declared rule; `None` (undeclared) is always denied.
    pub rule: Option<AccessRule>,
    /// The serving service's role map.
    pub permissions: &'static RolePermissions,
}

impl MethodPolicy {
    /// True when a caller with `roles` may call this RPC.
    pub fn permits(&self, roles: &[String]) -> bool {
        match &self.rule {
            None => false,
            Some(AccessRule::Public | AccessRule::Authenticated) => true,
            Some(AccessRule::Permission(p)) => self.permissions.allows(roles, p),
        }
    }
}

/// Every hosted RPC by its HTTP/2 path (`/pkg.Service/Method`).
#[derive(Debug, Default)]
pub struct PolicyTable {
    methods: HashMap<String, Arc<MethodPolicy>>,
}

/// The contract's descriptor pool, decoded once per process.
pub fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(malha_api::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set written by build.rs decodes")
    })
}

/// The rule declared on `method`, if any.
pub fn declared_rule(method: &MethodDescriptor) -> anyhow::Result<Option<AccessRule>> {
    let pool = method.parent_pool();
    let extension = pool
        .get_extension_by_name("malha.auth.v1.rule")
        .context("malha.auth.v1.rule is missing from the descriptor set")?;
    let options = method.options();
    if !options.has_extension(&extension) {
        return Ok(None);
    }
    let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
        bail!(
            "malha.auth.v1.rule on {} is not a message",
            method.full_name()
        );
    };
    let rule = if rule.has_field_by_name("public") {
        AccessRule::Public
    } else if rule.has_field_by_name("authenticated") {
        AccessRule::Authenticated
    } else if let Some(p) = rule.get_field_by_name("permission")
        && rule.has_field_by_name("permission")
    {
        let name = p.as_str().unwrap_or_default().to_owned();
        if name.is_empty() {
            return Ok(None);
        }
        AccessRule::Permission(name)
    } else {
        return Ok(None);
    };
    Ok(Some(rule))
}

impl PolicyTable {
    /// Builds the table for the hosted services from the contract.
    pub fn build(hosted: &[&'static RolePermissions]) -> anyhow::Result<Self> {
        let pool = descriptor_pool();
        let mut methods = HashMap::new();
        for permissions in hosted {
            let service = pool
                .get_service_by_name(permissions.service)
                .with_context(|| format!("{} is not in the contract", permissions.service))?;
            let service_name: Arc<str> = service.full_name().into();
            for method in service.methods() {
                let kind = match (method.is_client_streaming(), method.is_server_streaming()) {
                    (false, false) => "unary",
                    (false, true) => "server_stream",
                    (true, false) => "client_stream",
                    (true, true) => "bidi_stream",
                };
                let policy = MethodPolicy {
                    service: Arc::clone(&service_name),
                    method: method.name().into(),
                    kind,
                    rule: declared_rule(&method)?,
                    permissions,
                };
                methods.insert(
                    format!("/{}/{}", service_name, method.name()),
                    Arc::new(policy),
                );
            }
        }
        // Health is public infrastructure (probes, load balancers), but it
        // is metered and traced like every other RPC.
        static HEALTH: RolePermissions = RolePermissions {
            service: "grpc.health.v1.Health",
            grants: &[],
        };
        let health: Arc<str> = HEALTH.service.into();
        for (method, kind) in [("Check", "unary"), ("Watch", "server_stream")] {
            let policy = MethodPolicy {
                service: Arc::clone(&health),
                method: method.into(),
                kind,
                rule: Some(AccessRule::Public),
                permissions: &HEALTH,
            };
            methods.insert(format!("/{health}/{method}"), Arc::new(policy));
        }
        Ok(Self { methods })
    }

    /// The policy of the RPC at `path`, if it is hosted here.
    pub fn get(&self, path: &str) -> Option<&Arc<MethodPolicy>> {
        self.methods.get(path)
    }

    /// Every hosted path.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.methods.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_in_the_contract_declares_its_access_rule() {
        let pool = descriptor_pool();
        let mut undeclared = Vec::new();
        let mut count = 0;
        for service in pool.services() {
            if !service.full_name().starts_with("malha.") {
                continue;
            }
            for method in service.methods() {
                count += 1;
                if declared_rule(&method).unwrap().is_none() {
                    undeclared.push(method.full_name().to_owned());
                }
            }
        }
        assert!(count > 0, "the contract has RPCs");
        assert!(
            undeclared.is_empty(),
            "RPCs without (malha.auth.v1.rule): {undeclared:?}"
        );
    }

    #[test]
    fn rules_are_read_from_the_contract() {
        static PERMS: RolePermissions = RolePermissions {
            service: "malha.identity.v1.IdentityService",
            grants: &[("admin", &["*"]), ("employee", &["identity.people.read"])],
        };
        let table = PolicyTable::build(&[&PERMS]).unwrap();
        let login = table
            .get("/malha.identity.v1.IdentityService/Login")
            .unwrap();
        assert_eq!(login.rule, Some(AccessRule::Public));
        let list = table
            .get("/malha.identity.v1.IdentityService/ListCustomers")
            .unwrap();
        assert_eq!(
            list.rule,
            Some(AccessRule::Permission("identity.customers.read".into()))
        );
        assert!(list.permits(&["admin".into()]));
        assert!(!list.permits(&["employee".into()]));
        assert!(!list.permits(&["customer".into()]));
        assert!(!list.permits(&[]));
    }

    #[test]
    fn an_undeclared_rule_denies_everyone() {
        static PERMS: RolePermissions = RolePermissions {
            service: "x",
            grants: &[("admin", &["*"])],
        };
        let policy = MethodPolicy {
            service: "x".into(),
            method: "Y".into(),
            kind: "unary",
            rule: None,
            permissions: &PERMS,
        };
        assert!(!policy.permits(&["admin".into()]));
    }
}
