//! Payments (lanchonete): a Pix payment per order with its BR Code and QR
//! image, made by the configured provider (`local` or `mercadopago`);
//! signed provider webhooks; an append-only, hash-chained transaction log;
//! `PaymentApproved` / `PaymentRejected` / `PaymentExpired` through the
//! outbox; pending payments expire by themselves.
//!
//! Layers: [`brcode`] and [`domain`] (pure rules), [`provider`] (the
//! provider interface and its two implementations), [`store`] (SQL),
//! [`settle`] (the one way a status changes), [`expiry`] (the sweeper),
//! [`qr`] (images), [`api`] (gRPC handlers), `migrations/`.

pub mod api;
pub mod brcode;
pub mod domain;
pub mod expiry;
pub mod provider;
pub mod qr;
pub mod settings;
pub mod settle;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use malha_api::malha::payments::v1::payments_service_server::PaymentsServiceServer;
use malha_kit::auth::RolePermissions;
use malha_kit::db::{Pool, Schema};
use malha_kit::events::EventBus;
use malha_kit::server::{Dependency, Hosted};
use malha_kit::service::{Context as BuildContext, Service, SettingsSpec};

pub use settings::{PaymentsConfig, Settings};

/// Subject of `PaymentApproved`.
pub const SUBJECT_APPROVED: &str = "payments.payment.approved";
/// Subject of `PaymentRejected`.
pub const SUBJECT_REJECTED: &str = "payments.payment.rejected";
/// Subject of `PaymentExpired`.
pub const SUBJECT_EXPIRED: &str = "payments.payment.expired";
/// Subject of `PaymentRefunded`.
pub const SUBJECT_REFUNDED: &str = "payments.payment.refunded";

/// Payments, as the binary hosts it.
pub static SERVICE: Service = Service {
    name: "payments",
    schema: &SCHEMA,
    calls: &["identity"],
    settings: SettingsSpec::of::<PaymentsConfig>(),
    build,
};

fn build(ctx: &mut BuildContext<'_>) -> anyhow::Result<Arc<dyn Hosted>> {
    Ok(Arc::new(Payments::new(
        ctx.pool.clone(),
        ctx.bus()?,
        Arc::clone(&ctx.migrated),
        &ctx.settings::<PaymentsConfig>(),
    )?))
}

/// The database schema and migrations of payments.
pub static SCHEMA: Schema = Schema {
    name: "payments",
    migrator: &MIGRATOR,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Payments' own permission system. Payments are created by orders, as
/// itself (its service token), naming the customer who pays; staff may create
/// them too. A customer cannot create one, and reads only their own.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.payments.v1.PaymentsService",
    grants: &[
        ("admin", &["*"]),
        (
            "employee",
            &["payments.create", "payments.read", "payments.list"],
        ),
        ("customer", &["payments.read"]),
        ("service", &["payments.create", "payments.read"]),
    ],
};

/// The payments service, ready to host.
#[derive(Clone)]
pub struct Payments {
    pub(crate) pool: Pool,
    bus: EventBus,
    migrated: Arc<AtomicBool>,
    pub(crate) settings: Settings,
}

impl Payments {
    /// Payments over `pool`, publishing on `bus`, configured by `config`.
    pub fn new(
        pool: Pool,
        bus: EventBus,
        migrated: Arc<AtomicBool>,
        config: &PaymentsConfig,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            pool,
            bus,
            migrated,
            settings: Settings::from_config(config)?,
        })
    }
}

impl Hosted for Payments {
    fn name(&self) -> &'static str {
        "payments"
    }

    fn permissions(&self) -> &'static RolePermissions {
        &PERMISSIONS
    }

    fn register(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(PaymentsServiceServer::new(self.clone()));
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
            stop.clone(),
        );
        let this = self.clone();
        tokio::spawn(async move {
            malha_kit::db::wait_migrated(&this.migrated).await;
            expiry::spawn_sweeper(this.pool.clone(), this.settings.sweep_every, stop);
        });
    }
}
