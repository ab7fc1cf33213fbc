//! Settings shared by every service, from flags or the environment
//! (`MALHA_*`, `DATABASE_URL`, `OTEL_*`), with typed defaults.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// A value that must never reach a log line or an error message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// Settings of the serving process, shared by every target.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Address of the gRPC listener (every hosted service shares it).
    #[arg(long, env = "MALHA_GRPC_ADDR", default_value = "0.0.0.0:50051")]
    pub grpc_addr: SocketAddr,

    /// Address of the admin HTTP listener: /metrics, /healthz, /readyz.
    #[arg(long, env = "MALHA_ADMIN_ADDR", default_value = "0.0.0.0:9090")]
    pub admin_addr: SocketAddr,

    /// PostgreSQL URL; each service keeps its tables in its own schema.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,

    /// PostgreSQL URL for what a transaction-mode pooler such as PgBouncer
    /// cannot carry: `LISTEN` (the outbox relay's wake-ups, watch streams)
    /// and migrations (a session advisory lock). Default: DATABASE_URL.
    #[arg(long, env = "DATABASE_DIRECT_URL", hide_env_values = true)]
    pub database_direct_url: Option<Secret>,

    /// NATS URL of the event bus (JetStream), for services that publish or consume events.
    #[arg(long, env = "MALHA_NATS_URL")]
    pub nats_url: Option<String>,

    /// Maximum connections per service pool.
    #[arg(long, env = "MALHA_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Run each hosted service's migrations at start (the Helm hook does it in a cluster).
    #[arg(long, env = "MALHA_MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate_on_start: bool,

    #[command(flatten)]
    pub auth: AuthConfig,

    /// Each hosted service's own settings, by type: filled from the flags
    /// its crate declares (`malha::settings`), defaults when built in code.
    #[arg(skip)]
    pub services: crate::service::ServiceSettings,

    /// Seconds between SIGTERM (health NOT_SERVING) and closing the listener,
    /// so load balancers stop sending new calls first.
    #[arg(long, env = "MALHA_SHUTDOWN_DELAY_SECONDS", default_value_t = 0)]
    pub shutdown_delay_seconds: u64,

    /// Seconds after which a client connection is asked to reconnect, so
    /// long-lived HTTP/2 connections rebalance across replicas after scale-out.
    #[arg(
        long,
        env = "MALHA_GRPC_MAX_CONNECTION_AGE_SECONDS",
        default_value_t = 300
    )]
    pub max_connection_age_seconds: u64,

    /// Seconds in-flight calls get to finish once the listener closes.
    #[arg(long, env = "MALHA_SHUTDOWN_GRACE_SECONDS", default_value_t = 20)]
    pub shutdown_grace_seconds: u64,
}

/// How tokens are issued and verified.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthConfig {
    /// Where identity listens (JWKS, client credentials). Defaults to this
    /// process's own gRPC port when it hosts identity.
    #[arg(long, env = "MALHA_IDENTITY_URL")]
    pub identity_url: Option<String>,

    /// Expected `iss` of access tokens.
    #[arg(long, env = "MALHA_JWT_ISSUER", default_value = "malha")]
    pub issuer: String,

    /// Expected `aud` of access tokens.
    #[arg(long, env = "MALHA_JWT_AUDIENCE", default_value = "malha")]
    pub audience: String,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "MALHA_ACCESS_TOKEN_TTL_SECONDS", default_value_t = 3600)]
    pub access_token_ttl_seconds: u64,

    /// Seconds a rotated signing key is published (in the JWKS) before
    /// identity signs with it: at least the period at which services refresh
    /// their verification keys (300 s), so none meets a token whose key it
    /// has not fetched.
    #[arg(
        long,
        env = "MALHA_KEY_ACTIVATION_DELAY_SECONDS",
        default_value_t = 300
    )]
    pub key_activation_delay_seconds: u64,

    /// A JWKS file to verify with instead of fetching identity's (mounted keys).
    #[arg(long, env = "MALHA_JWKS_FILE")]
    pub jwks_file: Option<std::path::PathBuf>,

    /// 32 random bytes in base64 that seal identity's private signing keys
    /// at rest (AES-256-GCM). Without it they are stored in the clear.
    #[arg(long, env = "MALHA_KEY_ENCRYPTION_KEY", hide_env_values = true)]
    pub key_encryption_key: Option<Secret>,

    /// This process's service account (client credentials grant), for the
    /// calls a service makes on its own behalf. Not needed when the token
    /// issuer (identity) is served by the same process.
    #[arg(long, env = "MALHA_CLIENT_ID", requires = "client_secret")]
    pub client_id: Option<String>,

    /// The service account's secret (shown once by CreateServiceAccount).
    #[arg(
        long,
        env = "MALHA_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    pub client_secret: Option<Secret>,
}

impl ServeConfig {
    /// The drain timings as durations.
    pub fn shutdown_timings(&self) -> (Duration, Duration) {
        (
            Duration::from_secs(self.shutdown_delay_seconds),
            Duration::from_secs(self.shutdown_grace_seconds),
        )
    }
}

impl AuthConfig {
    /// Defaults for tests and tools; identity is found in-process or at `identity_url`.
    pub fn with_identity(identity_url: Option<String>) -> Self {
        Self {
            identity_url,
            issuer: "malha".into(),
            audience: "malha".into(),
            access_token_ttl_seconds: 3600,
            // In-process tests and tools: a rotated key signs at once.
            key_activation_delay_seconds: 0,
            jwks_file: None,
            key_encryption_key: None,
            client_id: None,
            client_secret: None,
        }
    }

    /// The service account's credentials, when both halves are set.
    pub fn credentials(&self) -> Option<crate::clients::ClientCredentials> {
        Some(crate::clients::ClientCredentials {
            client_id: self.client_id.clone()?,
            client_secret: self.client_secret.clone()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("postgres://u:hunter2@db/x");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
