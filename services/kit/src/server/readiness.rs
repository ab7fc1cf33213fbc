//! Readiness that follows each hosted service's dependencies: a service is
//! SERVING only while everything it needs answers; the overall status ("")
//! is SERVING only when every hosted service is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use super::Hosted;

/// Something a service needs in order to serve.
#[derive(Clone)]
pub enum Dependency {
    /// Its PostgreSQL pool (and the migrations having run).
    Postgres {
        /// The pool to probe.
        pool: crate::db::Pool,
        /// Set once the service's migrations are applied.
        migrated: Arc<AtomicBool>,
    },
    /// The event bus.
    Nats(Box<crate::events::EventBus>),
}

impl Dependency {
    /// What a service with its own schema and the event bus needs: its
    /// migrated database and NATS.
    pub fn database_and_bus(
        pool: &crate::db::Pool,
        migrated: &Arc<AtomicBool>,
        bus: &crate::events::EventBus,
    ) -> Vec<Self> {
        vec![
            Self::Postgres {
                pool: pool.clone(),
                migrated: Arc::clone(migrated),
            },
            Self::Nats(Box::new(bus.clone())),
        ]
    }

    async fn is_ready(&self) -> bool {
        match self {
            Self::Postgres { pool, migrated } => {
                migrated.load(Ordering::Acquire) && crate::db::is_reachable(pool).await
            }
            Self::Nats(bus) => bus.is_connected(),
        }
    }
}

const PERIOD: Duration = Duration::from_millis(500);

/// Probes dependencies until `stop`; returns the overall readiness flag.
pub(super) fn spawn(
    health: HealthReporter,
    services: &[Arc<dyn Hosted>],
    mut stop: watch::Receiver<bool>,
) -> Arc<AtomicBool> {
    let ready = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ready);
    let services: Vec<(&'static str, Vec<Dependency>)> = services
        .iter()
        .map(|s| (s.permissions().service, s.dependencies()))
        .collect();
    tokio::spawn(async move {
        // tonic-health starts "" as SERVING; nothing is ready until probed.
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        let mut last: Vec<Option<bool>> = vec![None; services.len()];
        loop {
            let mut all = true;
            for (i, (name, deps)) in services.iter().enumerate() {
                let mut ok = true;
                for dep in deps {
                    ok &= dep.is_ready().await;
                }
                all &= ok;
                if last[i] != Some(ok) {
                    last[i] = Some(ok);
                    tracing::info!(service = name, ready = ok, "readiness changed");
                    health.set_service_status(*name, status(ok)).await;
                }
            }
            if *stop.borrow() {
                return;
            }
            if flag.swap(all, Ordering::AcqRel) != all {
                health.set_service_status("", status(all)).await;
            }
            tokio::select! {
                () = tokio::time::sleep(PERIOD) => {}
                _ = stop.changed() => return,
            }
        }
    });
    ready
}

fn status(ok: bool) -> ServingStatus {
    if ok {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

pub(super) async fn set_all_not_serving(health: &HealthReporter, names: &[&'static str]) {
    for name in names {
        health
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
}
