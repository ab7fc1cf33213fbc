//! Inventory (Icarus): products and their quantities, kept by an append-only
//! stock ledger. Consumes `projects.project.created` and subtracts each
//! material exactly once; stock never goes silently negative (a shortage is
//! recorded and `StockShortage` published); crossing the minimum level
//! publishes `StockLow`.
//!
//! Layers: [`domain`] (rules), [`store`] (SQL), [`stock`] (the one way stock
//! changes), [`events`] (what it consumes), [`api`] (gRPC handlers), `migrations/`.

pub mod api;
pub mod domain;
pub mod events;
pub mod stock;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use malha_api::malha::inventory::v1::inventory_service_server::InventoryServiceServer;
use malha_kit::auth::RolePermissions;
use malha_kit::db::{Pool, Schema};
use malha_kit::events::EventBus;
use malha_kit::server::{Dependency, Hosted};
use malha_kit::service::{Context as BuildContext, Service, SettingsSpec};

/// Subject of `StockLow`.
pub const SUBJECT_STOCK_LOW: &str = "inventory.stock.low";
/// Subject of `StockShortage`.
pub const SUBJECT_STOCK_SHORTAGE: &str = "inventory.stock.shortage";

/// Inventory, as the binary hosts it.
pub static SERVICE: Service = Service {
    name: "inventory",
    schema: &SCHEMA,
    calls: &["identity"],
    settings: SettingsSpec::NONE,
    build,
};

fn build(ctx: &mut BuildContext<'_>) -> anyhow::Result<Arc<dyn Hosted>> {
    Ok(Arc::new(Inventory::new(
        ctx.pool.clone(),
        ctx.bus()?,
        Arc::clone(&ctx.migrated),
    )))
}

/// The database schema and migrations of inventory.
pub static SCHEMA: Schema = Schema {
    name: "inventory",
    migrator: &MIGRATOR,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Inventory's own permission system.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.inventory.v1.InventoryService",
    grants: &[
        ("admin", &["*"]),
        ("employee", &["inventory.read", "inventory.write"]),
        ("service", &["inventory.read"]),
    ],
};

/// The inventory service, ready to host.
#[derive(Clone)]
pub struct Inventory {
    pub(crate) pool: Pool,
    bus: EventBus,
    migrated: Arc<AtomicBool>,
}

impl Inventory {
    /// Inventory over `pool`, consuming and publishing on `bus`.
    pub fn new(pool: Pool, bus: EventBus, migrated: Arc<AtomicBool>) -> Self {
        Self {
            pool,
            bus,
            migrated,
        }
    }
}

impl Hosted for Inventory {
    fn name(&self) -> &'static str {
        "inventory"
    }

    fn permissions(&self) -> &'static RolePermissions {
        &PERMISSIONS
    }

    fn register(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(InventoryServiceServer::new(self.clone()));
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
            vec![(events::PROJECT_CREATED, Arc::new(events::SubtractMaterials))],
            stop,
        );
    }
}
