//! Projects (Icarus): production projects with the materials they use.
//! Creating one publishes `ProjectCreated` on `projects.project.created`
//! through the transactional outbox; inventory consumes it.
//!
//! Layers: [`domain`] (status machine, material rules), [`store`] (SQL),
//! [`api`] (gRPC handlers), `migrations/`.

pub mod api;
pub mod domain;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use malha_api::malha::projects::v1::projects_service_server::ProjectsServiceServer;
use malha_kit::auth::RolePermissions;
use malha_kit::db::{Pool, Schema};
use malha_kit::events::EventBus;
use malha_kit::server::{Dependency, Hosted};
use malha_kit::service::{Context as BuildContext, Service, SettingsSpec};

/// Subject of `ProjectCreated`.
pub const SUBJECT_PROJECT_CREATED: &str = "projects.project.created";

/// Projects, as the binary hosts it.
pub static SERVICE: Service = Service {
    name: "projects",
    schema: &SCHEMA,
    calls: &["identity"],
    settings: SettingsSpec::NONE,
    build,
};

fn build(ctx: &mut BuildContext<'_>) -> anyhow::Result<Arc<dyn Hosted>> {
    Ok(Arc::new(Projects::new(
        ctx.pool.clone(),
        ctx.bus()?,
        Arc::clone(&ctx.migrated),
    )))
}

/// The database schema and migrations of projects.
pub static SCHEMA: Schema = Schema {
    name: "projects",
    migrator: &MIGRATOR,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Projects' own permission system.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.projects.v1.ProjectsService",
    grants: &[
        ("admin", &["*"]),
        ("employee", &["projects.read", "projects.write"]),
        ("service", &["projects.read"]),
    ],
};

/// The projects service, ready to host.
#[derive(Clone)]
pub struct Projects {
    pub(crate) pool: Pool,
    bus: EventBus,
    migrated: Arc<AtomicBool>,
}

impl Projects {
    /// Projects over `pool`, publishing on `bus`.
    pub fn new(pool: Pool, bus: EventBus, migrated: Arc<AtomicBool>) -> Self {
        Self {
            pool,
            bus,
            migrated,
        }
    }
}

impl Hosted for Projects {
    fn name(&self) -> &'static str {
        "projects"
    }

    fn permissions(&self) -> &'static RolePermissions {
        &PERMISSIONS
    }

    fn register(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(ProjectsServiceServer::new(self.clone()));
    }

    fn dependencies(&self) -> Vec<Dependency> {
        Dependency::database_and_bus(&self.pool, &self.migrated, &self.bus)
    }

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
