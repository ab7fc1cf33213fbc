//! Every service the binary can host, by target name, with the schema it
//! owns and the targets it calls (the graph the mesh policies allow).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use malha_kit::clients::{self, ServiceToken};
use malha_kit::config::ServeConfig;
use malha_kit::db::{self, Pool, Schema};
use malha_kit::events::EventBus;
use malha_kit::server::Hosted;

/// A deployable service.
pub struct Target {
    /// The name used with `--target`.
    pub name: &'static str,
    /// Its database schema and migrations.
    pub schema: &'static Schema,
    /// Targets it calls over gRPC.
    pub calls: &'static [&'static str],
}

/// Every target, in start-up order.
pub static TARGETS: &[Target] = &[
    Target {
        name: "identity",
        schema: &malha_identity::SCHEMA,
        calls: &[],
    },
    Target {
        name: "projects",
        schema: &malha_projects::SCHEMA,
        calls: &["identity"],
    },
    Target {
        name: "inventory",
        schema: &malha_inventory::SCHEMA,
        calls: &["identity"],
    },
    Target {
        name: "suppliers",
        schema: &malha_suppliers::SCHEMA,
        calls: &["identity"],
    },
    Target {
        name: "payments",
        schema: &malha_payments::SCHEMA,
        calls: &["identity"],
    },
    Target {
        name: "orders",
        schema: &malha_orders::SCHEMA,
        calls: &["identity", "payments"],
    },
];

/// Resolves `identity,orders` or `all` to targets; unknown names are an error
/// that lists the known ones.
pub fn resolve(spec: &str) -> anyhow::Result<Vec<&'static Target>> {
    if spec.trim() == "all" {
        return Ok(TARGETS.iter().collect());
    }
    let mut out: Vec<&'static Target> = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let target = TARGETS.iter().find(|t| t.name == name).ok_or_else(|| {
            let known: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
            anyhow::anyhow!(
                "unknown target {name:?}; known targets: all, {}",
                known.join(", ")
            )
        })?;
        if !out.iter().any(|t| t.name == name) {
            out.push(target);
        }
    }
    anyhow::ensure!(
        !out.is_empty(),
        "no target given; use --target all or a list"
    );
    // Start-up order, whatever the order given: identity is built before the
    // services that mint their tokens with it.
    out.sort_by_key(|t| TARGETS.iter().position(|known| known.name == t.name));
    Ok(out)
}

/// What the targets built so far in this process lend the next ones.
#[derive(Default)]
pub struct Built {
    /// Identity, when this process serves it.
    identity: Option<Arc<malha_identity::Identity>>,
}

/// Builds the hosted service of `target` over `pool` (and the event bus, for
/// services that publish or consume events).
pub fn build(
    target: &'static Target,
    pool: Pool,
    config: &ServeConfig,
    migrated: Arc<AtomicBool>,
    bus: Option<&EventBus>,
    built: &mut Built,
) -> anyhow::Result<Arc<dyn Hosted>> {
    let bus = || {
        bus.cloned().ok_or_else(|| {
            anyhow::anyhow!(
                "MALHA_NATS_URL is required to serve {} (it publishes or consumes events)",
                target.name
            )
        })
    };
    Ok(match target.name {
        "identity" => {
            let identity = Arc::new(malha_identity::Identity::new(
                pool,
                malha_identity::IdentityConfig {
                    issuer: config.auth.issuer.clone(),
                    audience: config.auth.audience.clone(),
                    access_ttl: std::time::Duration::from_secs(
                        config.auth.access_token_ttl_seconds,
                    ),
                    refresh_ttl: std::time::Duration::from_secs(30 * 24 * 3600),
                    key_wrap: key_wrap(config.auth.key_encryption_key.as_ref())?,
                    key_activation_delay: std::time::Duration::from_secs(
                        config.auth.key_activation_delay_seconds,
                    ),
                },
                migrated,
            ));
            built.identity = Some(Arc::clone(&identity));
            identity
        }
        "projects" => Arc::new(malha_projects::Projects::new(pool, bus()?, migrated)),
        "inventory" => Arc::new(malha_inventory::Inventory::new(pool, bus()?, migrated)),
        "suppliers" => Arc::new(malha_suppliers::Suppliers::new(pool, migrated)),
        "payments" => Arc::new(malha_payments::Payments::new(
            pool,
            bus()?,
            migrated,
            &config.payments,
        )?),
        "orders" => Arc::new(malha_orders::Orders::new(
            pool,
            bus()?,
            migrated,
            &config.orders,
            service_token(target, config, built)?,
        )?),
        other => unreachable!("target {other} is listed in TARGETS but not built"),
    })
}

/// The key-encryption key of identity's signing keys, when configured.
pub fn key_wrap(
    secret: Option<&malha_kit::config::Secret>,
) -> anyhow::Result<Option<Arc<malha_identity::wrap::KeyWrap>>> {
    secret
        .map(|secret| malha_identity::wrap::KeyWrap::from_base64(secret).map(Arc::new))
        .transpose()
}

/// The token `target` uses for calls on its own behalf: its service
/// account's (client credentials), or minted by identity in this process.
fn service_token(
    target: &'static Target,
    config: &ServeConfig,
    built: &Built,
) -> anyhow::Result<Arc<ServiceToken>> {
    if let Some(credentials) = config.auth.credentials() {
        let url = config
            .auth
            .identity_url
            .as_deref()
            .context("MALHA_IDENTITY_URL is required with MALHA_CLIENT_ID")?;
        return Ok(Arc::new(ServiceToken::new(
            clients::channel(url)?,
            credentials,
        )));
    }
    match &built.identity {
        Some(identity) => Ok(Arc::new(ServiceToken::local(
            identity.service_minter(target.name),
        ))),
        None => anyhow::bail!(
            "{} calls other services on its own behalf: set MALHA_CLIENT_ID and \
             MALHA_CLIENT_SECRET to a service account with the `service` role \
             (docs/deploy.md, \"Service accounts\"), or serve identity in the same process",
            target.name
        ),
    }
}

/// A pool for `target` in its own schema.
pub fn pool(url: &str, target: &Target, max_connections: u32) -> anyhow::Result<Pool> {
    db::pool(url, target.schema, max_connections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_lists_all_and_refuses_unknown_names() {
        assert_eq!(resolve("all").unwrap().len(), TARGETS.len());
        assert_eq!(resolve("identity, identity").unwrap().len(), 1);
        let names: Vec<_> = resolve("orders,identity")
            .unwrap()
            .iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["identity", "orders"], "start-up order");
        let error = resolve("identity,nope").err().unwrap().to_string();
        assert!(error.contains("unknown target \"nope\""), "{error}");
        assert!(error.contains("identity"), "{error}");
    }

    #[test]
    fn every_call_names_a_real_target() {
        for target in TARGETS {
            for call in target.calls {
                assert!(
                    TARGETS.iter().any(|t| t.name == *call),
                    "{} calls {call}",
                    target.name
                );
            }
        }
    }
}
