//! Orders (lanchonete): the menu (categories and products) and customers'
//! orders, priced by the server from the menu. Placing an order asks the
//! payments service (over gRPC, with a deadline) for its Pix payment;
//! `payments.payment.*` events move it to PAID (or back, or to CANCELLED)
//! exactly once; the kitchen moves it to DELIVERED; `WatchOrder` streams
//! every change.
//!
//! Layers: [`domain`] (status machine, pricing, menu rules), [`store`] (SQL),
//! [`transition`] (the one way a status changes), [`payments`] (the client of
//! payments), [`events`] (what it consumes), [`watch`] (live updates across
//! replicas), [`api`] (gRPC handlers), `migrations/`.

pub mod api;
pub mod checkout;
pub mod domain;
pub mod events;
pub mod payments;
pub mod settings;
pub mod store;
pub mod transition;
pub mod watch;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;

use malha_api::malha::orders::v1::orders_service_server::OrdersServiceServer;
use malha_kit::auth::RolePermissions;
use malha_kit::db::{Pool, Schema};
use malha_kit::events::EventBus;
use malha_kit::server::{Dependency, Hosted};
use malha_kit::service::{Context as BuildContext, Service, SettingsSpec};

use crate::payments::PaymentsClient;
pub use crate::settings::OrdersConfig;
use crate::watch::Hub;

/// Orders, as the binary hosts it.
pub static SERVICE: Service = Service {
    name: "orders",
    schema: &SCHEMA,
    calls: &["identity", "payments"],
    settings: SettingsSpec::of::<OrdersConfig>(),
    build,
};

/// Orders over the context's pool and bus, calling payments (hosted here or
/// at `MALHA_PAYMENTS_URL`) with its own service token.
fn build(ctx: &mut BuildContext<'_>) -> anyhow::Result<Arc<dyn Hosted>> {
    let mut config = ctx.settings::<OrdersConfig>();
    config.payments_url = ctx.url_of("payments", config.payments_url.as_deref());
    Ok(Arc::new(Orders::new(
        ctx.pool.clone(),
        ctx.bus()?,
        Arc::clone(&ctx.migrated),
        &config,
        ctx.service_token()?,
    )?))
}

/// The database schema and migrations of orders.
pub static SCHEMA: Schema = Schema {
    name: "orders",
    migrator: &MIGRATOR,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Orders' own permission system. Reading the menu is public; customers
/// place, pay, read and cancel their own orders; employees run the kitchen
/// and take products off the menu; admins edit the menu.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.orders.v1.OrdersService",
    grants: &[
        ("admin", &["*"]),
        (
            "employee",
            &[
                "orders.read",
                "orders.manage",
                "orders.cancel",
                "orders.pay",
                "orders.menu.availability",
            ],
        ),
        (
            "customer",
            &["orders.place", "orders.read", "orders.cancel", "orders.pay"],
        ),
        // A session opened with a CPF alone: place and follow (and pay) the
        // orders of this session; see domain::visibility.
        (
            "customer.identified",
            &["orders.place", "orders.read", "orders.pay"],
        ),
    ],
};

/// The orders service, ready to host.
#[derive(Clone)]
pub struct Orders {
    pub(crate) pool: Pool,
    bus: EventBus,
    migrated: Arc<AtomicBool>,
    pub(crate) payments: PaymentsClient,
    pub(crate) hub: Arc<Hub>,
}

impl Orders {
    /// Orders over `pool`, consuming from `bus`, calling payments as `config` says.
    pub fn new(
        pool: Pool,
        bus: EventBus,
        migrated: Arc<AtomicBool>,
        config: &OrdersConfig,
        token: Arc<malha_kit::clients::ServiceToken>,
    ) -> anyhow::Result<Self> {
        let url = config.payments_url.as_deref().context(
            "MALHA_PAYMENTS_URL is required when payments is not served by this process",
        )?;
        Ok(Self {
            pool,
            bus,
            migrated,
            payments: PaymentsClient::new(
                url,
                Duration::from_millis(config.payments_deadline_ms.max(1)),
                token,
            )?,
            hub: Arc::new(Hub::new()),
        })
    }
}

impl Hosted for Orders {
    fn name(&self) -> &'static str {
        "orders"
    }

    fn permissions(&self) -> &'static RolePermissions {
        &PERMISSIONS
    }

    fn register(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(OrdersServiceServer::new(self.clone()));
    }

    fn dependencies(&self) -> Vec<Dependency> {
        Dependency::database_and_bus(&self.pool, &self.migrated, &self.bus)
    }

    fn start_background(&self, stop: tokio::sync::watch::Receiver<bool>) {
        self.hub.spawn_listener(self.pool.clone(), stop.clone());
        malha_kit::events::start_after_migrations(
            self.pool.clone(),
            self.bus.clone(),
            Arc::clone(&self.migrated),
            None,
            vec![(
                events::PAYMENT_OUTCOMES,
                Arc::new(events::ApplyPaymentOutcome),
            )],
            stop,
        );
    }
}
