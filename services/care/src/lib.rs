//! Care (Asky): requests from the floor (medicine, material, assistance)
//! for a patient's bed, moved through FHIR Task statuses by the people
//! allowed to. Creating one checks its items against pharmacy and takes the
//! requester's name and role from identity, both over gRPC with care's own
//! token; every change is kept (who, when, why), published through the
//! outbox, and streamed live to pharmacy staff (`WatchRequests`).
//!
//! Layers: [`domain`] (workflow and limits, no I/O), [`store`] (SQL, and the
//! one way a change is recorded), [`peers`] (the clients of identity and
//! pharmacy), [`events`] (what it publishes and consumes), [`api`] (gRPC
//! handlers), `migrations/`.

pub mod api;
pub mod domain;
pub mod events;
pub mod peers;
pub mod record;
pub mod settings;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;

use malha_api::malha::care::v1::care_service_server::CareServiceServer;
use malha_kit::auth::RolePermissions;
use malha_kit::db::{Pool, Schema};
use malha_kit::events::EventBus;
use malha_kit::feed::Signals;
use malha_kit::server::{Dependency, Hosted};
use malha_kit::service::{Context as BuildContext, Service, SettingsSpec};

use crate::peers::Peers;
pub use crate::settings::CareConfig;

/// Care, as the binary hosts it.
pub static SERVICE: Service = Service {
    name: "care",
    schema: &SCHEMA,
    calls: &["identity", "pharmacy"],
    settings: SettingsSpec::of::<CareConfig>(),
    build,
};

/// Care over the context's pool and bus, calling identity and pharmacy
/// (hosted here, or at `MALHA_IDENTITY_URL` / `MALHA_PHARMACY_URL`) with its
/// own service token.
fn build(ctx: &mut BuildContext<'_>) -> anyhow::Result<Arc<dyn Hosted>> {
    let config = ctx.settings::<CareConfig>();
    let identity = ctx
        .url_of("identity", ctx.config().auth.identity_url.as_deref())
        .context("MALHA_IDENTITY_URL is required when identity is not served by this process")?;
    let pharmacy = ctx
        .url_of("pharmacy", config.pharmacy_url.as_deref())
        .context("MALHA_PHARMACY_URL is required when pharmacy is not served by this process")?;
    let peers = Peers::new(
        &identity,
        &pharmacy,
        Duration::from_millis(config.care_call_deadline_ms.max(1)),
        ctx.service_token()?,
    )?;
    Ok(Arc::new(Care {
        pool: ctx.pool.clone(),
        bus: ctx.bus()?,
        migrated: Arc::clone(&ctx.migrated),
        peers,
        heartbeat: Duration::from_millis(config.care_watch_heartbeat_ms.max(10)),
        signals: Signals::new(),
    }))
}

/// The database schema and migrations of care.
pub static SCHEMA: Schema = Schema {
    name: "care",
    migrator: &MIGRATOR,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Care's own permission system. Nurses ask; pharmacists fulfil and watch;
/// staff read. Who may make which status change is finer than a permission
/// (the requester cancels their own request), so it is the domain's rule
/// ([`domain::workflow`]), checked after `care.read`.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.care.v1.CareService",
    grants: &[
        ("admin", &["*"]),
        ("nurse", &["care.read", "care.request"]),
        ("pharmacist", &["care.read", "care.fulfil"]),
        ("employee", &["care.read"]),
    ],
};

/// The care service, ready to host.
#[derive(Clone)]
pub struct Care {
    pub(crate) pool: Pool,
    bus: EventBus,
    migrated: Arc<AtomicBool>,
    pub(crate) peers: Peers,
    /// How long a watch stays silent before a heartbeat.
    pub(crate) heartbeat: Duration,
    /// Wakes this process's watchers on every replica's changes (NOTIFY on
    /// [`record::CHANNEL`]).
    pub(crate) signals: Arc<Signals>,
}

impl Hosted for Care {
    fn name(&self) -> &'static str {
        "care"
    }

    fn permissions(&self) -> &'static RolePermissions {
        &PERMISSIONS
    }

    fn register(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(CareServiceServer::new(self.clone()));
    }

    fn dependencies(&self) -> Vec<Dependency> {
        Dependency::database_and_bus(&self.pool, &self.migrated, &self.bus)
    }

    fn start_background(&self, stop: tokio::sync::watch::Receiver<bool>) {
        self.signals
            .spawn_listener(self.pool.clone(), record::CHANNEL, stop.clone());
        malha_kit::events::start_after_migrations(
            self.pool.clone(),
            self.bus.clone(),
            Arc::clone(&self.migrated),
            Some("care"),
            events::consumers(),
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
        let all = ["care.read", "care.request", "care.fulfil"];
        for permission in all {
            assert!(PERMISSIONS.allows(&roles("admin"), permission));
            assert!(!PERMISSIONS.allows(&roles("customer"), permission));
            assert!(!PERMISSIONS.allows(&roles("service"), permission));
        }
        assert!(PERMISSIONS.allows(&roles("nurse"), "care.request"));
        assert!(!PERMISSIONS.allows(&roles("nurse"), "care.fulfil"));
        assert!(PERMISSIONS.allows(&roles("pharmacist"), "care.fulfil"));
        assert!(!PERMISSIONS.allows(&roles("pharmacist"), "care.request"));
        assert!(PERMISSIONS.allows(&roles("employee"), "care.read"));
        assert!(!PERMISSIONS.allows(&roles("employee"), "care.request"));
    }

    #[test]
    fn every_rpc_declares_a_permission_this_map_knows() {
        let table = malha_kit::auth::PolicyTable::build(&[&PERMISSIONS]).unwrap();
        let mut count = 0;
        for path in table.paths().filter(|p| p.contains("CareService")) {
            count += 1;
            let policy = table.get(path).unwrap();
            assert!(
                policy.permits(&roles("admin")),
                "{path} must be reachable by an administrator"
            );
            assert!(!policy.permits(&roles("customer")), "{path} is staff only");
        }
        assert_eq!(count, 6, "every RPC of the contract is checked");
    }
}
