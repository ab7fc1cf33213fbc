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
use malha_kit::feed::Signals;
use malha_kit::hot::HotCache;
use malha_kit::server::{Dependency, Hosted};
use malha_kit::service::{Context as BuildContext, Service, SettingsSpec};
use malha_kit::web::{File, Page, Site, content_type};

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

/// The clinic's two screens, served by the edge (files embedded here, see
/// `web/`): the TV panel at `/panel/{unit}` (public, like `WatchPanel`) and
/// the totem at `/totem/{unit}` (signed in with a `totem` service account).
pub static SITE: Site = Site {
    name: "queue",
    pages: &[
        Page {
            route: "/panel/{unit}",
            file: "panel.html",
        },
        Page {
            route: "/totem/{unit}",
            file: "totem.html",
        },
    ],
    files: &[
        File {
            name: "panel.html",
            content_type: content_type::HTML,
            body: include_bytes!("../web/panel.html"),
        },
        File {
            name: "panel.js",
            content_type: content_type::JAVASCRIPT,
            body: include_bytes!("../web/panel.js"),
        },
        File {
            name: "totem.html",
            content_type: content_type::HTML,
            body: include_bytes!("../web/totem.html"),
        },
        File {
            name: "totem.js",
            content_type: content_type::JAVASCRIPT,
            body: include_bytes!("../web/totem.js"),
        },
        File {
            name: "queue.css",
            content_type: content_type::CSS,
            body: include_bytes!("../web/queue.css"),
        },
    ],
};

/// The database schema and migrations of queue.
pub static SCHEMA: Schema = Schema {
    name: "queue",
    migrator: &MIGRATOR,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Queue's own permission system. Every clinic role reads the units,
/// services and desks it works with; reception issues and calls tickets,
/// doctors call them; a totem issues with a service account holding only
/// the `totem` role (a kiosk's credential can do nothing else); only an
/// administrator changes units, services and desks, because that changes
/// how every patient is called.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.queue.v1.QueueService",
    grants: &[
        ("admin", &["*"]),
        (
            "employee",
            &["queue.read", "queue.issue", "queue.call", PATIENT_READ],
        ),
        (
            "receptionist",
            &["queue.read", "queue.issue", "queue.call", PATIENT_READ],
        ),
        ("doctor", &["queue.read", "queue.call", PATIENT_READ]),
        ("service", &["queue.read", "queue.issue"]),
        ("totem", &["queue.read", "queue.issue"]),
    ],
};

/// Reading a ticket's CPF whole (everyone else sees it masked): the clinic
/// staff who identify the patient. Not an RPC's rule: the handlers ask.
pub const PATIENT_READ: &str = "queue.patient.read";

/// The queue service, ready to host.
#[derive(Clone)]
pub struct Queue {
    pub(crate) pool: Pool,
    bus: EventBus,
    migrated: Arc<AtomicBool>,
    /// Units whose panel changed, from every replica's `NOTIFY`.
    pub(crate) panel_signals: Arc<Signals>,
    /// Units whose tickets changed (a trigger on `tickets` notifies).
    ticket_signals: Arc<Signals>,
    /// Each unit's panel head (position, name, last calls), in memory.
    pub(crate) panel_cache: Arc<HotCache<api::PanelHead>>,
    /// Each unit's stats for its local today, in memory.
    pub(crate) stats_cache: Arc<HotCache<api::CachedStats>>,
}

impl Queue {
    /// Queue over `pool`, publishing on `bus`; `migrated` flips once its
    /// migrations are applied.
    pub fn new(pool: Pool, bus: EventBus, migrated: Arc<AtomicBool>) -> Self {
        let panel_signals = Signals::new();
        let ticket_signals = Signals::new();
        Self {
            pool,
            bus,
            migrated,
            panel_cache: HotCache::new(Arc::clone(&panel_signals)),
            stats_cache: HotCache::new(Arc::clone(&ticket_signals)),
            panel_signals,
            ticket_signals,
        }
    }

    /// Drops what this replica holds of `unit` after a change it committed
    /// (other replicas hear of it through `NOTIFY`).
    pub(crate) fn changed(&self, unit: uuid::Uuid, panel: bool) {
        let key = unit.to_string();
        self.stats_cache.invalidate(&key);
        if panel {
            self.panel_cache.invalidate(&key);
        }
    }

    /// Panel and stats reads answered from memory and from the database so
    /// far (`malha bench --only queue` reports them).
    pub fn hot_reads(&self) -> [(u64, u64); 2] {
        [
            self.panel_cache.hits_and_misses(),
            self.stats_cache.hits_and_misses(),
        ]
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

    /// The outbox relay (queue consumes nothing yet) and the panels' listener.
    fn start_background(&self, stop: tokio::sync::watch::Receiver<bool>) {
        self.panel_signals
            .spawn_listener(self.pool.clone(), store::panel::CHANNEL, stop.clone());
        self.ticket_signals.spawn_listener(
            self.pool.clone(),
            store::tickets::CHANNEL,
            stop.clone(),
        );
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
        for role in ["employee", "receptionist", "doctor", "service", "totem"] {
            assert!(PERMISSIONS.allows(&roles(role), "queue.read"), "{role}");
            assert!(!PERMISSIONS.allows(&roles(role), "queue.manage"), "{role}");
        }
        assert!(PERMISSIONS.allows(&roles("receptionist"), "queue.issue"));
        assert!(PERMISSIONS.allows(&roles("receptionist"), "queue.call"));
        assert!(PERMISSIONS.allows(&roles("doctor"), "queue.call"));
        assert!(!PERMISSIONS.allows(&roles("doctor"), "queue.issue"));
        assert!(PERMISSIONS.allows(&roles("service"), "queue.issue"));
        assert!(!PERMISSIONS.allows(&roles("service"), "queue.call"));
        assert!(PERMISSIONS.allows(&roles("totem"), "queue.issue"));
        for role in ["admin", "employee", "receptionist", "doctor"] {
            assert!(
                PERMISSIONS.allows(&roles(role), super::PATIENT_READ),
                "{role}"
            );
        }
        for role in ["service", "totem", "customer"] {
            assert!(
                !PERMISSIONS.allows(&roles(role), super::PATIENT_READ),
                "{role}"
            );
        }
        assert!(!PERMISSIONS.allows(&roles("totem"), "queue.call"));
        for permission in ALL {
            assert!(!PERMISSIONS.allows(&roles("customer"), permission));
        }
    }

    #[test]
    fn the_site_serves_every_page_it_names() {
        assert!(
            super::SITE.problems().is_empty(),
            "{:?}",
            super::SITE.problems()
        );
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
            // The TV panel shows codes and desks to a waiting room: public.
            let public = path.ends_with("/WatchPanel");
            assert_eq!(
                policy.permits(&roles("customer")),
                public,
                "{path} is staff only unless it is the panel"
            );
        }
        assert_eq!(count, 22, "every RPC of the contract is checked");
    }
}
