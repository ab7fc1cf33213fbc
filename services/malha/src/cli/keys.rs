//! `malha keys generate|rotate|list`: identity's signing keys, straight in
//! its database (DATABASE_URL), for operators. Next to a `malha up` (no
//! DATABASE_URL) it uses that `up`'s database and key-encryption key.

use std::time::Duration;

use malha_identity::keys::KeyRing;
use malha_kit::config::Secret;

use super::local;
use crate::targets;

/// Arguments of `keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
    /// PostgreSQL URL of identity's database (default: the local `malha up`'s).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<Secret>,
    /// Access-token lifetime: a retired key stays published this long (plus 2 min).
    #[arg(
        long,
        env = "MALHA_ACCESS_TOKEN_TTL_SECONDS",
        default_value_t = 3600,
        global = true
    )]
    pub access_token_ttl_seconds: u64,
    /// Seconds a rotated-in key is published before it signs (at least the
    /// services' key-refresh period).
    #[arg(
        long,
        env = "MALHA_KEY_ACTIVATION_DELAY_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub key_activation_delay_seconds: u64,
    /// The key-encryption key identity's private keys are sealed with
    /// (default with the local `malha up`'s database: its key).
    #[arg(
        long,
        env = "MALHA_KEY_ENCRYPTION_KEY",
        hide_env_values = true,
        global = true
    )]
    pub key_encryption_key: Option<Secret>,
}

/// Key operations.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create the first signing key if there is none.
    Generate,
    /// Publish a new key, signing after the activation delay; the old one signs
    /// until then and stays published until its tokens expire.
    Rotate,
    /// Print the published keys (JWKS).
    List,
}

pub(super) async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let (url, key_encryption_key) = match args.database_url {
        Some(url) => (url, args.key_encryption_key),
        None => {
            let url = local::local_database_url()?;
            eprintln!(
                "using the database of the local malha up ({})",
                local::data_dir().display()
            );
            // The local key only ever goes with the local database.
            let key = match args.key_encryption_key {
                Some(key) => Some(key),
                None => local::local_key_encryption_key()?,
            };
            (url, key)
        }
    };
    let identity = targets::resolve("identity")?[0];
    let pool = targets::pool(url.expose(), None, identity, 2)?;
    malha_kit::db::migrate(&pool, identity.schema).await?;
    let wrap = targets::key_wrap(key_encryption_key.as_ref())?;
    let ring = if wrap.is_some() {
        KeyRing::new(pool, wrap)
    } else {
        // The ring warns "stored unencrypted" whenever it has no key, which
        // misleads right before the error when the stored keys are sealed;
        // here the error says so, and the note below covers new clear keys.
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            KeyRing::new(pool, None)
        })
    }
    .activate_after(Duration::from_secs(args.key_activation_delay_seconds));
    let loaded = match args.command {
        KeysCommand::Generate | KeysCommand::List => ring.reload().await,
        KeysCommand::Rotate => ring
            .rotate(Duration::from_secs(args.access_token_ttl_seconds + 120))
            .await
            .map(|(_, loaded)| loaded),
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if key_encryption_key.is_none() && !matches!(args.command, KeysCommand::List) {
        eprintln!(
            "note: no MALHA_KEY_ENCRYPTION_KEY: a key created now is stored unencrypted (docs/operations.md)"
        );
    }
    println!("signing key: {}", loaded.active_kid);
    if let Some(next) = &loaded.next {
        println!(
            "next signing key: {} (signs from {})",
            next.kid,
            next.activate_time.to_rfc3339()
        );
    }
    for key in &loaded.published {
        println!(
            "{}",
            serde_json::json!({"kty": key.kty, "crv": key.crv, "x": key.x, "kid": key.kid, "alg": key.alg, "use": key.key_use})
        );
    }
    Ok(())
}
