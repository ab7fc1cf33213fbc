//! Builds and starts the server for a set of targets: pools in each
//! service's schema, migrations retried in the background until the database
//! answers (readiness waits for them), the token verifier, the listeners.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::targets::{self, Target};
use malha_kit::auth::{KeySource, Verifier};
use malha_kit::config::ServeConfig;
use malha_kit::events::EventBus;
use malha_kit::server::{self, RunningServer, ServerSpec};
use malha_kit::service::{Context as BuildContext, Host};

/// Starts serving `targets` with `config`. Never fails because the database
/// is down: it serves NOT_SERVING until it is back.
pub async fn start(
    config: &ServeConfig,
    targets: &[&'static Target],
) -> anyhow::Result<RunningServer> {
    let url = config
        .database_url
        .as_ref()
        .context("DATABASE_URL is not set (or use `malha up`, which runs its own PostgreSQL)")?
        .expose()
        .to_owned();
    let direct = config.database_direct_url.as_ref().map(|d| d.expose());
    let bus = match &config.nats_url {
        Some(url) => Some(EventBus::connect(url).await?),
        None => None,
    };
    // Bound before the services are built: those hosted here call each other
    // on this port (over real gRPC, on loopback).
    let grpc = TcpListener::bind(config.grpc_addr)
        .await
        .with_context(|| format!("binding the gRPC address {}", config.grpc_addr))?;
    let loopback = format!("http://127.0.0.1:{}", grpc.local_addr()?.port());
    let mut host = Host::new(
        config.clone(),
        bus,
        targets.iter().map(|t| t.name).collect(),
        loopback.clone(),
    );
    let mut services = Vec::with_capacity(targets.len());
    for target in targets {
        let pool = targets::pool(&url, direct, target, config.db_max_connections)?;
        let migrated = Arc::new(AtomicBool::new(!config.migrate_on_start));
        if config.migrate_on_start {
            spawn_migrations(target, pool.clone(), Arc::clone(&migrated));
        }
        let mut context = BuildContext::new(target, pool, migrated, &mut host);
        services.push((target.build)(&mut context)?);
    }

    let source = match (&config.auth.jwks_file, &config.auth.identity_url) {
        (Some(path), _) => KeySource::File(path.clone()),
        (None, Some(url)) => KeySource::Identity(url.clone()),
        // The token issuer is hosted here: its keys are still fetched over
        // real gRPC, on loopback.
        (None, None) if host.has_token_issuer() => KeySource::Identity(loopback),
        (None, None) => anyhow::bail!(
            "MALHA_IDENTITY_URL is required when identity is not served by this process"
        ),
    };
    let verifier = Verifier::new(source, &config.auth.issuer, &config.auth.audience);
    verifier.spawn_refresher(Duration::from_secs(300));
    let admin = TcpListener::bind(config.admin_addr)
        .await
        .with_context(|| format!("binding the admin address {}", config.admin_addr))?;
    let (shutdown_delay, shutdown_grace) = config.shutdown_timings();
    server::start(ServerSpec {
        grpc,
        admin,
        services,
        verifier,
        shutdown_delay,
        shutdown_grace,
        max_connection_age: Duration::from_secs(config.max_connection_age_seconds),
    })
}

/// Applies `target`'s migrations, retrying until the database answers.
fn spawn_migrations(target: &'static Target, pool: malha_kit::db::Pool, migrated: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let mut wait = Duration::from_millis(200);
        loop {
            match malha_kit::db::migrate(&pool, target.schema).await {
                Ok(()) => {
                    migrated.store(true, Ordering::Release);
                    tracing::info!(target = target.name, "migrations applied");
                    return;
                }
                Err(error) => {
                    tracing::warn!(
                        target = target.name,
                        error = format!("{error:#}"),
                        "migrations not applied yet; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
}
