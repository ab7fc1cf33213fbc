//! Identity: people (employees, administrators) and their user accounts with
//! roles; customers identified by CPF or anonymous; service accounts with
//! client credentials; login with argon2id, EdDSA access tokens and rotating
//! refresh tokens; the JWKS every service verifies with; key rotation;
//! activation e-mails for users an administrator created.
//!
//! Layers: [`domain`] (rules, no I/O), [`store`] (SQL), [`api`] (gRPC
//! handlers), [`keys`]/[`tokens`]/[`passwords`] (crypto), [`mail`] (the
//! activation e-mail notifier), `migrations/`.

pub mod api;
pub mod domain;
pub mod keys;
pub mod mail;
pub mod passwords;
pub mod store;
pub mod tokens;
pub mod wrap;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use malha_api::identity::identity_service_server::IdentityServiceServer;
use malha_kit::auth::RolePermissions;
use malha_kit::db::{Pool, Schema};
use malha_kit::server::{Dependency, Hosted};
use malha_kit::service::{Context as BuildContext, Service, SettingsSpec};

/// Identity, as the binary hosts it. It issues every token, so it lends the
/// services built after it in the same process a minter for their own.
pub static SERVICE: Service = Service {
    name: "identity",
    schema: &SCHEMA,
    calls: &[],
    settings: SettingsSpec::of::<mail::MailSettings>(),
    build,
};

fn build(ctx: &mut BuildContext<'_>) -> anyhow::Result<Arc<dyn Hosted>> {
    let auth = &ctx.config().auth;
    let config = IdentityConfig {
        issuer: auth.issuer.clone(),
        audience: auth.audience.clone(),
        access_ttl: Duration::from_secs(auth.access_token_ttl_seconds),
        refresh_ttl: Duration::from_secs(30 * 24 * 3600),
        key_wrap: key_wrap(auth.key_encryption_key.as_ref())?,
        key_activation_delay: Duration::from_secs(auth.key_activation_delay_seconds),
    };
    let settings: mail::MailSettings = ctx.settings();
    let notifier = Notifier {
        // Without a bus, pending users' e-mails wait in the outbox.
        bus: ctx.bus().ok(),
        mail: Arc::new(mail::SendActivationMail {
            mailer: mail::Mailer::from_settings(&settings)?,
            from: settings
                .mail_from
                .parse()
                .map_err(|e| anyhow::anyhow!("MALHA_MAIL_FROM is not a mail address: {e}"))?,
            policy: settings.policy(),
        }),
    };
    let mut identity = Identity::new(ctx.pool.clone(), config, Arc::clone(&ctx.migrated));
    identity.activation = settings.policy();
    identity.notifier = Some(notifier);
    let identity = Arc::new(identity);
    let issuer = Arc::clone(&identity);
    ctx.lend_token_issuer(Arc::new(move |service| issuer.service_minter(service)));
    Ok(identity)
}

/// The key-encryption key of the signing keys (`MALHA_KEY_ENCRYPTION_KEY`),
/// when configured.
pub fn key_wrap(
    secret: Option<&malha_kit::config::Secret>,
) -> anyhow::Result<Option<Arc<wrap::KeyWrap>>> {
    secret
        .map(|secret| wrap::KeyWrap::from_base64(secret).map(Arc::new))
        .transpose()
}

/// The database schema and migrations of identity.
pub static SCHEMA: Schema = Schema {
    name: "identity",
    migrator: &MIGRATOR,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Identity's own permission system: which roles may do what here.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.identity.v1.IdentityService",
    grants: &[
        ("admin", &["*"]),
        (
            "employee",
            &[
                "identity.people.read",
                "identity.users.read",
                "identity.customers.read",
            ],
        ),
        (
            "service",
            &["identity.customers.read", "identity.users.read"],
        ),
    ],
};

/// Settings of identity.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Seals the private signing keys at rest (`MALHA_KEY_ENCRYPTION_KEY`).
    pub key_wrap: Option<Arc<wrap::KeyWrap>>,
    /// How long a rotated-in key is published before it signs
    /// (`MALHA_KEY_ACTIVATION_DELAY_SECONDS`).
    pub key_activation_delay: Duration,
}

/// The identity service, ready to host.
#[derive(Clone)]
pub struct Identity {
    pub(crate) pool: Pool,
    pub(crate) tokens: Arc<tokens::TokenIssuer>,
    pub(crate) passwords: passwords::Passwords,
    pub(crate) lockout: domain::LockoutPolicy,
    pub(crate) verifier: malha_kit::auth::Verifier,
    pub(crate) activation: domain::ActivationPolicy,
    notifier: Option<Notifier>,
    migrated: Arc<AtomicBool>,
}

/// The outbox relay and the activation e-mail consumer, run beside the API.
#[derive(Clone)]
struct Notifier {
    bus: Option<malha_kit::events::EventBus>,
    mail: Arc<mail::SendActivationMail>,
}

impl Identity {
    /// Identity over `pool`; `migrated` flips once its migrations are applied.
    pub fn new(pool: Pool, config: IdentityConfig, migrated: Arc<AtomicBool>) -> Self {
        let keys = Arc::new(
            keys::KeyRing::new(pool.clone(), config.key_wrap)
                .activate_after(config.key_activation_delay),
        );
        let verifier = malha_kit::auth::Verifier::new(
            malha_kit::auth::KeySource::Held(Arc::new(keys::Published(Arc::clone(&keys)))),
            &config.issuer,
            &config.audience,
        );
        Self {
            verifier,
            tokens: Arc::new(tokens::TokenIssuer {
                keys,
                issuer: config.issuer,
                audience: config.audience,
                access_ttl: config.access_ttl,
                refresh_ttl: config.refresh_ttl,
            }),
            pool,
            passwords: passwords::Passwords::default(),
            lockout: domain::LockoutPolicy::default(),
            activation: domain::ActivationPolicy::default(),
            notifier: None,
            migrated,
        }
    }

    /// Tokens for `service`, served by this same process, to call other
    /// services on its own behalf.
    pub fn service_minter(&self, service: &'static str) -> Arc<dyn malha_kit::clients::MintToken> {
        Arc::new(tokens::LocalService::new(Arc::clone(&self.tokens), service))
    }

    /// The key ring (for `malha keys`).
    pub fn keys(&self) -> &keys::KeyRing {
        &self.tokens.keys
    }
}

impl Hosted for Identity {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn permissions(&self) -> &'static RolePermissions {
        &PERMISSIONS
    }

    fn register(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(IdentityServiceServer::new(self.clone()));
    }

    fn verifier(&self) -> Option<malha_kit::auth::Verifier> {
        // Identity verifies with the keys it holds: no hop over the network
        // to itself, no refresh cooldown before a key it just rotated in.
        Some(self.verifier.clone())
    }

    fn start_background(&self, stop: tokio::sync::watch::Receiver<bool>) {
        let Some(Notifier {
            bus: Some(bus),
            mail,
        }) = self.notifier.clone()
        else {
            return;
        };
        malha_kit::events::start_after_migrations(
            self.pool.clone(),
            bus,
            Arc::clone(&self.migrated),
            Some(SCHEMA.name),
            vec![(
                mail::ACTIVATION_MAIL,
                mail as Arc<dyn malha_kit::events::Handler>,
            )],
            stop,
        );
    }

    fn dependencies(&self) -> Vec<Dependency> {
        vec![Dependency::Postgres {
            pool: self.pool.clone(),
            migrated: Arc::clone(&self.migrated),
        }]
    }
}
