//! Suppliers: the companies Icarus buys from — legal and trade names, a CNPJ
//! checked by its digits (numeric or, from July 2026, alphanumeric) and
//! unique, contacts, a Brazilian address, an active flag — and the inventory
//! products each supplies. A supplier still supplying products is
//! deactivated instead of deleted.
//!
//! Layers: [`domain`] (rules, no I/O), [`store`] (SQL), [`api`] (gRPC
//! handlers), `migrations/`.

pub mod api;
pub mod domain;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use malha_api::malha::suppliers::v1::suppliers_service_server::SuppliersServiceServer;
use malha_kit::auth::RolePermissions;
use malha_kit::db::{Pool, Schema};
use malha_kit::server::{Dependency, Hosted};
use malha_kit::service::{Context as BuildContext, Service, SettingsSpec};

/// Suppliers, as the binary hosts it.
pub static SERVICE: Service = Service {
    name: "suppliers",
    schema: &SCHEMA,
    calls: &["identity"],
    settings: SettingsSpec::NONE,
    build,
};

fn build(ctx: &mut BuildContext<'_>) -> anyhow::Result<Arc<dyn Hosted>> {
    Ok(Arc::new(Suppliers::new(
        ctx.pool.clone(),
        Arc::clone(&ctx.migrated),
    )))
}

/// The database schema and migrations of suppliers.
pub static SCHEMA: Schema = Schema {
    name: "suppliers",
    migrator: &MIGRATOR,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Suppliers' own permission system: which roles may do what here. The
/// production team (employees) registers suppliers and what they supply;
/// only an administrator deletes, because a delete cannot be undone.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.suppliers.v1.SuppliersService",
    grants: &[
        ("admin", &["*"]),
        ("employee", &["suppliers.read", "suppliers.write"]),
        ("service", &["suppliers.read"]),
    ],
};

/// The suppliers service, ready to host.
#[derive(Clone)]
pub struct Suppliers {
    pub(crate) pool: Pool,
    migrated: Arc<AtomicBool>,
}

impl Suppliers {
    /// Suppliers over `pool`; `migrated` flips once its migrations are applied.
    pub fn new(pool: Pool, migrated: Arc<AtomicBool>) -> Self {
        Self { pool, migrated }
    }
}

impl Hosted for Suppliers {
    fn name(&self) -> &'static str {
        "suppliers"
    }

    fn permissions(&self) -> &'static RolePermissions {
        &PERMISSIONS
    }

    fn register(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(SuppliersServiceServer::new(self.clone()));
    }

    fn dependencies(&self) -> Vec<Dependency> {
        vec![Dependency::Postgres {
            pool: self.pool.clone(),
            migrated: Arc::clone(&self.migrated),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::PERMISSIONS;

    fn roles(role: &str) -> Vec<String> {
        vec![role.to_owned()]
    }

    #[test]
    fn each_role_gets_exactly_its_permissions() {
        for permission in ["suppliers.read", "suppliers.write", "suppliers.delete"] {
            assert!(PERMISSIONS.allows(&roles("admin"), permission));
        }
        assert!(PERMISSIONS.allows(&roles("employee"), "suppliers.read"));
        assert!(PERMISSIONS.allows(&roles("employee"), "suppliers.write"));
        assert!(!PERMISSIONS.allows(&roles("employee"), "suppliers.delete"));
        assert!(PERMISSIONS.allows(&roles("service"), "suppliers.read"));
        assert!(!PERMISSIONS.allows(&roles("service"), "suppliers.write"));
        for permission in ["suppliers.read", "suppliers.write", "suppliers.delete"] {
            assert!(!PERMISSIONS.allows(&roles("customer"), permission));
        }
    }

    #[test]
    fn every_rpc_declares_a_permission_this_map_knows() {
        let table = malha_kit::auth::PolicyTable::build(&[&PERMISSIONS]).unwrap();
        let mut count = 0;
        for path in table.paths().filter(|p| p.contains("SuppliersService")) {
            count += 1;
            let policy = table.get(path).unwrap();
            assert!(
                policy.permits(&roles("admin")),
                "{path} must be reachable by an administrator"
            );
            assert!(!policy.permits(&roles("customer")), "{path} is staff only");
        }
        assert_eq!(count, 10, "every RPC of the contract is checked");
    }
}
