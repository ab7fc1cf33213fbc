//! How a service describes itself to the binary that hosts it: one
//! [`Service`] value per service crate (its target name, schema, callees,
//! settings and build function) and the [`Context`] every build function
//! receives. The binary's registry is a list of these values; nothing here
//! names a service.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;

use crate::clients::{self, MintToken, ServiceToken};
use crate::config::ServeConfig;
use crate::db::{Pool, Schema};
use crate::events::EventBus;
use crate::server::Hosted;

/// Builds a hosted service from the common context.
pub type BuildFn = fn(&mut Context<'_>) -> anyhow::Result<Arc<dyn Hosted>>;

/// One deployable service, as its crate exports it (`pub static SERVICE`).
pub struct Service {
    /// The name used with `--target`, in logs and in metrics labels.
    pub name: &'static str,
    /// Its database schema and migrations.
    pub schema: &'static Schema,
    /// Targets it calls over gRPC (the graph the mesh policies allow).
    pub calls: &'static [&'static str],
    /// Its own command-line flags and environment variables.
    pub settings: SettingsSpec,
    /// Builds it over the common context.
    pub build: BuildFn,
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

/// Reads one service's settings from parsed arguments (`None`: it has none).
type ParseFn = fn(&clap::ArgMatches) -> Result<Option<Box<dyn AnySettings>>, clap::Error>;

/// A service's settings type, seen without naming it: how to add its flags
/// to a command and how to read them back.
#[derive(Clone, Copy)]
pub struct SettingsSpec {
    augment: Option<fn(clap::Command) -> clap::Command>,
    parse: ParseFn,
}

impl SettingsSpec {
    /// A service with no settings of its own.
    pub const NONE: SettingsSpec = SettingsSpec {
        augment: None,
        parse: |_| Ok(None),
    };

    /// A service configured by `T` (a `clap::Args` struct). Its argument ids
    /// share one command with every other service's: name fields after the
    /// service (`payments_url`, `pix_key`) so they cannot collide.
    pub const fn of<T>() -> SettingsSpec
    where
        T: clap::Args + Clone + Default + fmt::Debug + Send + Sync + 'static,
    {
        SettingsSpec {
            augment: Some(<T as clap::Args>::augment_args),
            parse: |matches| Ok(Some(Box::new(T::from_arg_matches(matches)?))),
        }
    }

    /// `command` with these settings' flags added.
    pub fn augment(&self, command: clap::Command) -> clap::Command {
        match self.augment {
            Some(augment) => augment(command),
            None => command,
        }
    }

    /// Reads these settings from parsed arguments into `into`.
    pub fn parse_into(
        &self,
        matches: &clap::ArgMatches,
        into: &mut ServiceSettings,
    ) -> Result<(), clap::Error> {
        if let Some(settings) = (self.parse)(matches)? {
            into.0.insert((*settings).as_any().type_id(), settings);
        }
        Ok(())
    }
}

/// A settings value whose type only its service knows.
pub trait AnySettings: Any + Send + Sync + fmt::Debug {
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn AnySettings>;
    /// For downcasting.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Clone + Send + Sync + fmt::Debug> AnySettings for T {
    fn clone_box(&self) -> Box<dyn AnySettings> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Every hosted service's own settings, by type. A type never set (a test
/// building its `ServeConfig` in code) reads as its `Default`.
#[derive(Default)]
pub struct ServiceSettings(BTreeMap<TypeId, Box<dyn AnySettings>>);

impl ServiceSettings {
    /// The settings of type `T`, or its default.
    pub fn get<T: AnySettings + Clone + Default>(&self) -> T {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|settings| (**settings).as_any().downcast_ref::<T>())
            .cloned()
            .unwrap_or_default()
    }

    /// The settings of type `T` to change (set to its default first if absent).
    pub fn get_mut<T: AnySettings + Default>(&mut self) -> &mut T {
        let settings = self
            .0
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()));
        (**settings)
            .as_any_mut()
            .downcast_mut::<T>()
            .expect("settings are stored under their own type id")
    }
}

impl Clone for ServiceSettings {
    fn clone(&self) -> Self {
        Self(
            self.0
                .iter()
                .map(|(id, settings)| (*id, (**settings).clone_box()))
                .collect(),
        )
    }
}

impl fmt::Debug for ServiceSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.values()).finish()
    }
}

/// Mints tokens for a co-hosted service, by target name: what a token
/// issuer served in this process lends the services built after it.
pub type MintFor = Arc<dyn Fn(&'static str) -> Arc<dyn MintToken> + Send + Sync>;

/// The process that hosts the services: what every build function shares.
pub struct Host {
    /// The settings shared by every target, and each service's own.
    pub config: ServeConfig,
    /// The event bus, when configured.
    pub bus: Option<EventBus>,
    /// Every target this process serves.
    pub hosted: Vec<&'static str>,
    /// This process's own gRPC URL, on loopback.
    pub loopback: String,
    /// What a token issuer built here lends the services built after it.
    token_issuer: Option<MintFor>,
}

impl Host {
    /// A host serving `hosted` on `loopback`.
    pub fn new(
        config: ServeConfig,
        bus: Option<EventBus>,
        hosted: Vec<&'static str>,
        loopback: String,
    ) -> Self {
        Self {
            config,
            bus,
            hosted,
            loopback,
            token_issuer: None,
        }
    }

    /// True once a service built here issues tokens (and serves the JWKS).
    pub fn has_token_issuer(&self) -> bool {
        self.token_issuer.is_some()
    }
}

/// Everything a build function may use; one per service being built.
pub struct Context<'a> {
    /// The service being built.
    pub service: &'static Service,
    /// A pool in its own schema.
    pub pool: Pool,
    /// Flips to true once its migrations are applied (readiness waits for it).
    pub migrated: Arc<AtomicBool>,
    host: &'a mut Host,
}

impl<'a> Context<'a> {
    /// The context for building `service` in `host`.
    pub fn new(
        service: &'static Service,
        pool: Pool,
        migrated: Arc<AtomicBool>,
        host: &'a mut Host,
    ) -> Self {
        Self {
            service,
            pool,
            migrated,
            host,
        }
    }

    /// The settings shared by every target.
    pub fn config(&self) -> &ServeConfig {
        &self.host.config
    }

    /// The event bus; an error naming `MALHA_NATS_URL` when none is configured.
    pub fn bus(&self) -> anyhow::Result<EventBus> {
        self.host.bus.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "MALHA_NATS_URL is required to serve {} (it publishes or consumes events)",
                self.service.name
            )
        })
    }

    /// This service's own settings (their defaults when none were parsed).
    pub fn settings<T: AnySettings + Clone + Default>(&self) -> T {
        self.host.config.services.get::<T>()
    }

    /// `configured`, or this process's own gRPC URL when it hosts `target`:
    /// co-hosted services still call each other over real gRPC, on loopback.
    pub fn url_of(&self, target: &str, configured: Option<&str>) -> Option<String> {
        configured.map(str::to_owned).or_else(|| {
            self.host
                .hosted
                .contains(&target)
                .then(|| self.host.loopback.clone())
        })
    }

    /// Offers `mint` to the services built after this one, so they get their
    /// own tokens without a network call or a service account.
    pub fn lend_token_issuer(&mut self, mint: MintFor) {
        self.host.token_issuer = Some(mint);
    }

    /// The token this service uses for calls on its own behalf: its service
    /// account's (client credentials) when configured, else minted by a
    /// token issuer served in this process.
    pub fn service_token(&self) -> anyhow::Result<Arc<ServiceToken>> {
        let auth = &self.host.config.auth;
        if let Some(credentials) = auth.credentials() {
            let url = auth
                .identity_url
                .clone()
                .or_else(|| {
                    self.host
                        .has_token_issuer()
                        .then(|| self.host.loopback.clone())
                })
                .context("MALHA_IDENTITY_URL is required with MALHA_CLIENT_ID")?;
            return Ok(Arc::new(ServiceToken::new(
                clients::channel(&url)?,
                credentials,
            )));
        }
        match &self.host.token_issuer {
            Some(mint) => Ok(Arc::new(ServiceToken::local(mint(self.service.name)))),
            None => anyhow::bail!(
                "{} calls other services on its own behalf: set MALHA_CLIENT_ID and \
                 MALHA_CLIENT_SECRET to a service account with the `service` role \
                 (docs/deploy.md, \"Service accounts\"), or serve the token issuer \
                 in the same process",
                self.service.name
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, clap::Args)]
    struct Example {
        #[arg(long, env = "MALHA_EXAMPLE_LIMIT", default_value_t = 7)]
        example_limit: u32,
    }

    impl Default for Example {
        fn default() -> Self {
            Self { example_limit: 7 }
        }
    }

    #[test]
    fn settings_are_parsed_from_the_flags_their_spec_added() {
        let spec = SettingsSpec::of::<Example>();
        let command = spec.augment(clap::Command::new("t"));
        let matches = command.get_matches_from(["t", "--example-limit", "3"]);
        let mut settings = ServiceSettings::default();
        spec.parse_into(&matches, &mut settings).unwrap();
        assert_eq!(settings.get::<Example>().example_limit, 3);
    }

    static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
    static SCHEMA: Schema = Schema {
        name: "caller",
        migrator: &MIGRATOR,
    };
    static CALLER: Service = Service {
        name: "caller",
        schema: &SCHEMA,
        calls: &["callee"],
        settings: SettingsSpec::NONE,
        build: |_| anyhow::bail!("not built in these tests"),
    };

    fn host(hosted: Vec<&'static str>) -> Host {
        let config = ServeConfig {
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            admin_addr: "127.0.0.1:0".parse().unwrap(),
            database_url: None,
            database_direct_url: None,
            nats_url: None,
            db_max_connections: 1,
            migrate_on_start: false,
            auth: crate::config::AuthConfig::with_identity(None),
            services: ServiceSettings::default(),
            shutdown_delay_seconds: 0,
            max_connection_age_seconds: 300,
            shutdown_grace_seconds: 1,
        };
        Host::new(config, None, hosted, "http://127.0.0.1:7".into())
    }

    fn context(host: &mut Host) -> Context<'_> {
        let pool = crate::db::pool("postgres://u@127.0.0.1:1/d", None, &SCHEMA, 1).unwrap();
        Context::new(&CALLER, pool, Arc::new(AtomicBool::new(false)), host)
    }

    struct Minted(&'static str);

    impl MintToken for Minted {
        fn mint(
            &self,
        ) -> futures::future::BoxFuture<'_, Result<(String, std::time::Duration), tonic::Status>>
        {
            Box::pin(async move {
                Ok((
                    format!("token-of-{}", self.0),
                    std::time::Duration::from_secs(60),
                ))
            })
        }
    }

    #[tokio::test]
    async fn a_callee_hosted_here_is_reached_on_loopback_unless_configured() {
        let mut hosted = host(vec!["caller", "callee"]);
        let ctx = context(&mut hosted);
        assert_eq!(
            ctx.url_of("callee", None).as_deref(),
            Some("http://127.0.0.1:7")
        );
        assert_eq!(
            ctx.url_of("callee", Some("http://callee:50051")).as_deref(),
            Some("http://callee:50051")
        );
        let mut alone = host(vec!["caller"]);
        assert_eq!(context(&mut alone).url_of("callee", None), None);
    }

    #[tokio::test]
    async fn a_service_token_comes_from_a_co_hosted_issuer_or_an_error_says_how() {
        let mut host = host(vec!["caller"]);
        let error = context(&mut host)
            .service_token()
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("caller") && error.contains("MALHA_CLIENT_ID"),
            "{error}"
        );
        assert!(
            context(&mut host)
                .bus()
                .err()
                .unwrap()
                .to_string()
                .contains("MALHA_NATS_URL")
        );

        context(&mut host).lend_token_issuer(Arc::new(|service| Arc::new(Minted(service))));
        assert!(host.has_token_issuer());
        let token = context(&mut host).service_token().unwrap();
        assert_eq!(&*token.token().await.unwrap(), "token-of-caller");
    }

    #[test]
    fn unset_settings_read_as_their_default_and_can_be_changed() {
        let mut settings = ServiceSettings::default();
        assert_eq!(settings.get::<Example>().example_limit, 7);
        settings.get_mut::<Example>().example_limit = 9;
        assert_eq!(settings.clone().get::<Example>().example_limit, 9);
    }
}
