//! `malha keys generate|rotate|list`: identity's signing keys, straight in
//! its database (DATABASE_URL), for operators.

use std::time::Duration;

use malha_identity::keys::KeyRing;
use malha_kit::config::Secret;

use crate::targets;

/// Arguments of `keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
    /// PostgreSQL URL of identity's database.
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
    /// The key-encryption key identity's private keys are sealed with.
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
    let url = args
        .database_url
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL is not set (malha up prints it)"))?;
    let identity = targets::resolve("identity")?[0];
    let pool = targets::pool(url.expose(), identity, 2)?;
    malha_kit::db::migrate(&pool, identity.schema).await?;
    let ring = KeyRing::new(pool, targets::key_wrap(args.key_encryption_key.as_ref())?)
        .activate_after(Duration::from_secs(args.key_activation_delay_seconds));
    let loaded = match args.command {
        KeysCommand::Generate | KeysCommand::List => ring.reload().await,
        KeysCommand::Rotate => ring
            .rotate(Duration::from_secs(args.access_token_ttl_seconds + 120))
            .await
            .map(|(_, loaded)| loaded),
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
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
