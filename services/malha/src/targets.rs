//! The registry: every service this binary can host, as each service crate
//! describes itself ([`malha_kit::service::Service`]). Adding a service is one
//! line here; nothing else in the binary names it.

use malha_kit::db::{self, Pool};
use malha_kit::service::Service;

/// A deployable service (its crate's `SERVICE`).
pub type Target = Service;

/// Every target, in start-up order: a service that lends others something
/// (identity mints their tokens) comes before the services that use it.
pub static TARGETS: &[&Target] = &[
    &malha_identity::SERVICE,
    &malha_projects::SERVICE,
    &malha_inventory::SERVICE,
    &malha_suppliers::SERVICE,
    &malha_payments::SERVICE,
    &malha_orders::SERVICE,
    &malha_queue::SERVICE,
    &malha_pharmacy::SERVICE,
    &malha_care::SERVICE,
];

/// The web pages services contribute, served by the edge (`malha up`,
/// `malha serve --target edge`). A service with pages adds one line here
/// too; see docs/adr for why this is a list beside [`TARGETS`] rather than
/// a field of every `Service`.
pub static SITES: &[&malha_kit::web::Site] = &[&malha_queue::SITE];

/// Resolves `identity,orders` or `all` to targets; unknown names are an error
/// that lists the known ones.
pub fn resolve(spec: &str) -> anyhow::Result<Vec<&'static Target>> {
    if spec.trim() == "all" {
        return Ok(TARGETS.to_vec());
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
    // Start-up order, whatever the order given.
    out.sort_by_key(|t| TARGETS.iter().position(|known| known.name == t.name));
    Ok(out)
}

/// The key-encryption key of identity's signing keys (for `malha keys`).
pub fn key_wrap(
    secret: Option<&malha_kit::config::Secret>,
) -> anyhow::Result<Option<std::sync::Arc<malha_identity::wrap::KeyWrap>>> {
    malha_identity::key_wrap(secret)
}

/// A pool for `target` in its own schema, its listeners and migrations on
/// `direct` when given (`DATABASE_DIRECT_URL`).
pub fn pool(
    url: &str,
    direct: Option<&str>,
    target: &Target,
    max_connections: u32,
) -> anyhow::Result<Pool> {
    db::pool(url, direct, target.schema, max_connections)
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

    #[test]
    fn names_and_schemas_are_unique() {
        for (i, a) in TARGETS.iter().enumerate() {
            for b in &TARGETS[i + 1..] {
                assert_ne!(a.name, b.name, "two targets named {}", a.name);
                assert_ne!(a.schema.name, b.schema.name, "{} and {}", a.name, b.name);
            }
        }
    }
}
