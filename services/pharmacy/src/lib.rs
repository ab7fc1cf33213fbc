//! Pharmacy (Asky): medicines (a `controlled` flag for substances under
//! special control) and materials, electronic dispensing cabinets with
//! their pockets, an append-only stock ledger that never goes negative, and
//! a hash-chained audit trail of controlled movements.
//!
//! Layers: [`domain`] (rules, no I/O), [`store`] (SQL, including
//! [`store::stock::dispense_once`], the one way a batch of dispenses for a
//! source is recorded), [`api`] (gRPC handlers), [`events`] (what it
//! publishes), [`qr_image`] (QR codes as PNG/SVG), `migrations/`.

pub mod api;
pub mod consumer;
pub mod domain;
pub mod events;
pub mod qr_image;
mod settings;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use malha_api::malha::pharmacy::v1::pharmacy_service_server::PharmacyServiceServer;
use malha_kit::auth::RolePermissions;
use malha_kit::db::{Pool, Schema};
use malha_kit::events::EventBus;
use malha_kit::server::{Dependency, Hosted};
use malha_kit::service::{Context as BuildContext, Service, SettingsSpec};

pub use settings::PharmacyConfig;

/// Pharmacy, as the binary hosts it.
pub static SERVICE: Service = Service {
    name: "pharmacy",
    schema: &SCHEMA,
    calls: &["identity"],
    settings: SettingsSpec::of::<PharmacyConfig>(),
    build,
};

fn build(ctx: &mut BuildContext<'_>) -> anyhow::Result<Arc<dyn Hosted>> {
    Ok(Arc::new(Pharmacy::new(
        ctx.pool.clone(),
        ctx.bus()?,
        Arc::clone(&ctx.migrated),
        &ctx.settings::<PharmacyConfig>(),
    )?))
}

/// The database schema and migrations of pharmacy.
pub static SCHEMA: Schema = Schema {
    name: "pharmacy",
    migrator: &MIGRATOR,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Pharmacy's own permission system. Anyone on the floor (nurses, staff)
/// reads the catalogue and finds where an item is kept; only pharmacists
/// keep the catalogue, the cabinets and their stock, and read the
/// controlled-substance audit; services (care) read with their own token.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.pharmacy.v1.PharmacyService",
    grants: &[
        ("admin", &["*"]),
        (
            "pharmacist",
            &[
                "pharmacy.read",
                "pharmacy.write",
                "pharmacy.stock",
                "pharmacy.audit",
            ],
        ),
        ("nurse", &["pharmacy.read"]),
        ("employee", &["pharmacy.read"]),
        ("service", &["pharmacy.read"]),
    ],
};

/// The pharmacy service, ready to host.
#[derive(Clone)]
pub struct Pharmacy {
    pub(crate) pool: Pool,
    bus: EventBus,
    migrated: Arc<AtomicBool>,
    /// What QR codes point at (`<base>/dispensers/<id>`), checked.
    pub(crate) qr_base_url: Arc<str>,
}

impl Pharmacy {
    /// Pharmacy over `pool`, publishing on `bus`; `migrated` flips once its
    /// migrations are applied.
    pub fn new(
        pool: Pool,
        bus: EventBus,
        migrated: Arc<AtomicBool>,
        config: &PharmacyConfig,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            pool,
            bus,
            migrated,
            qr_base_url: config.qr_base_url()?.into(),
        })
    }
}

impl Hosted for Pharmacy {
    fn name(&self) -> &'static str {
        "pharmacy"
    }

    fn permissions(&self) -> &'static RolePermissions {
        &PERMISSIONS
    }

    fn register(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(PharmacyServiceServer::new(self.clone()));
    }

    fn dependencies(&self) -> Vec<Dependency> {
        Dependency::database_and_bus(&self.pool, &self.migrated, &self.bus)
    }

    /// The outbox relay (`pharmacy.stock.*`). The consumer of
    /// `care.request.completed` joins here once care publishes it.
    fn start_background(&self, stop: tokio::sync::watch::Receiver<bool>) {
        malha_kit::events::start_after_migrations(
            self.pool.clone(),
            self.bus.clone(),
            Arc::clone(&self.migrated),
            Some(SCHEMA.name),
            consumer::consumers(),
            stop,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::PERMISSIONS;

    fn roles(role: &str) -> Vec<String> {
        vec![role.to_owned()]
    }

    const ALL: [&str; 4] = [
        "pharmacy.read",
        "pharmacy.write",
        "pharmacy.stock",
        "pharmacy.audit",
    ];

    #[test]
    fn each_role_gets_exactly_its_permissions() {
        for permission in ALL {
            assert!(PERMISSIONS.allows(&roles("admin"), permission));
            assert!(PERMISSIONS.allows(&roles("pharmacist"), permission));
            assert!(!PERMISSIONS.allows(&roles("customer"), permission));
        }
        for role in ["nurse", "employee", "service"] {
            assert!(PERMISSIONS.allows(&roles(role), "pharmacy.read"), "{role}");
            for permission in &ALL[1..] {
                assert!(!PERMISSIONS.allows(&roles(role), permission), "{role}");
            }
        }
    }

    #[test]
    fn every_rpc_declares_a_permission_this_map_knows() {
        let table = malha_kit::auth::PolicyTable::build(&[&PERMISSIONS]).unwrap();
        let mut count = 0;
        for path in table.paths().filter(|p| p.contains("PharmacyService")) {
            count += 1;
            let policy = table.get(path).unwrap();
            assert!(
                policy.permits(&roles("admin")),
                "{path} must be reachable by an administrator"
            );
            assert!(!policy.permits(&roles("customer")), "{path} is staff only");
        }
        assert_eq!(count, 21, "every RPC of the contract is checked");
    }
}
