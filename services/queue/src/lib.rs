//! Queue: the waiting rooms of clinics. Units (each in its time zone), the
//! services they offer (each with the letter of its ticket codes), desks and
//! the services each desk serves; tickets issued with daily codes and legal
//! priorities, called by desks under a fairness rule, and their attendance.
//!
//! Layers: [`domain`] (rules, no I/O: time zones and local days, letters
//! and codes, legal priorities, the fairness rule, the ticket lifecycle),
//! [`store`] (SQL), [`api`] (gRPC handlers), `migrations/`.

pub mod api;
pub mod domain;
pub mod events;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use malha_api::malha::queue::v1::queue_service_server::QueueServiceServer;
use malha_kit::auth::RolePermissions;
use malha_kit::db::{Pool, Schema};
use malha_kit::events::EventBus;
use malha_kit::server::{Dependency, Hosted};
use malha_kit::service::{Context as BuildContext, Service, SettingsSpec};

/// Queue, as the binary hosts it.
pub static SERVICE: Service = Service {
    name: "queue",
    schema: &SCHEMA,
    calls: &["identity"],
    settings: SettingsSpec::NONE,
    build,
};

fn build(ctx: &mut BuildContext<'_>) -> anyhow::Result<Arc<dyn Hosted>> {
    Ok(Arc::new(Queue::new(
        ctx.pool.clone(),
        ctx.bus()?,
        Arc::clone(&ctx.migrated),
    )))
}

/// The database schema and migrations of queue.
pub static SCHEMA: Schema = Schema {
    name: "queue",
    migrator: &MIGRATOR,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Queue's own permission system. Every clinic role reads the units,
/// services and desks it works with; reception issues and calls tickets,
/// doctors call them; a totem issues with a service account; only an
/// administrator changes units, services and desks, because that changes
/// how every patient is called.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.queue.v1.QueueService",
    grants: &[
        ("admin", &["*"]),
        ("employee", &["queue.read", "queue.issue", "queue.call"]),
        ("receptionist", &["queue.read", "queue.issue", "queue.call"]),
        ("doctor", &["queue.read", "queue.call"]),
        ("service", &["queue.read", "queue.issue"]),
    ],
};

/// The queue service, ready to host.
#[derive(Clone)]
pub struct Queue {
    pub(crate) pool: Pool,
    bus: EventBus,
    migrated: Arc<AtomicBool>,
}

impl Queue {
    /// Queue over `pool`, publishing on `bus`; `migrated` flips once its
    /// migrations are applied.
    pub fn new(pool: Pool, bus: EventBus, migrated: Arc<AtomicBool>) -> Self {
        Self {
            pool,
            bus,
            migrated,
        }
    }
}

impl Hosted for Queue {
    fn name(&self) -> &'static str {
        "queue"
    }

    fn permissions(&self) -> &'static RolePermissions {
        &PERMISSIONS
    }

    fn register(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(QueueServiceServer::new(self.clone()));
    }

    fn dependencies(&self) -> Vec<Dependency> {
        Dependency::database_and_bus(&self.pool, &self.migrated, &self.bus)
    }

    /// The outbox relay: queue consumes nothing yet.
    fn start_background(&self, stop: tokio::sync::watch::Receiver<bool>) {
        malha_kit::events::start_after_migrations(
            self.pool.clone(),
            self.bus.clone(),
            Arc::clone(&self.migrated),
            Some(SCHEMA.name),
            Vec::new(),
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

    #[test]
    fn each_role_gets_exactly_its_permissions() {
        const ALL: [&str; 4] = ["queue.read", "queue.issue", "queue.call", "queue.manage"];
        for permission in ALL {
            assert!(PERMISSIONS.allows(&roles("admin"), permission));
        }
        for role in ["employee", "receptionist", "doctor", "service"] {
            assert!(PERMISSIONS.allows(&roles(role), "queue.read"), "{role}");
            assert!(!PERMISSIONS.allows(&roles(role), "queue.manage"), "{role}");
        }
        assert!(PERMISSIONS.allows(&roles("receptionist"), "queue.issue"));
        assert!(PERMISSIONS.allows(&roles("receptionist"), "queue.call"));
        assert!(PERMISSIONS.allows(&roles("doctor"), "queue.call"));
        assert!(!PERMISSIONS.allows(&roles("doctor"), "queue.issue"));
        assert!(PERMISSIONS.allows(&roles("service"), "queue.issue"));
        assert!(!PERMISSIONS.allows(&roles("service"), "queue.call"));
        for permission in ALL {
            assert!(!PERMISSIONS.allows(&roles("customer"), permission));
        }
    }

    #[test]
    fn every_rpc_declares_a_permission_this_map_knows() {
        let table = malha_kit::auth::PolicyTable::build(&[&PERMISSIONS]).unwrap();
        let mut count = 0;
        for path in table.paths().filter(|p| p.contains("QueueService")) {
            count += 1;
            let policy = table.get(path).unwrap();
            assert!(
                policy.permits(&roles("admin")),
                "{path} must be reachable by an administrator"
            );
            assert!(!policy.permits(&roles("customer")), "{path} is staff only");
        }
        assert_eq!(count, 20, "every RPC of the contract is checked");
    }
}
