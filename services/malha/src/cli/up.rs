//! `malha up`: everything on this machine with one command. Without
//! DATABASE_URL it runs a private PostgreSQL from the machine's server
//! binaries in a data directory of its own (reused by the next `up`),
//! migrates, serves every target, loads demo data, prints where everything
//! is, and stops it all on Ctrl-C. With `--split`, every target runs as its
//! own process instead (`split.rs`), as in the cluster.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use super::local;
use super::seed::{
    self, DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, DEMO_CLINIC_PASSWORD, DEMO_CUSTOMER_CPF,
};
use super::split::{self, Replicas};
use crate::settings::Settings;
use crate::{app, targets};
use malha_identity::mail::MailSettings;
use malha_kit::config::Secret;
use malha_local::{NatsServer, PgBinaries, PgCluster};
use malha_payments::PaymentsConfig;

/// The webhook secret `malha up` uses unless MALHA_PAYMENTS_WEBHOOK_SECRET is set.
pub const DEV_WEBHOOK_SECRET: &str = "malha-dev-webhook-secret";

/// Where `up` keeps the demo totem's service account (its secret is shown
/// only when the account is made).
const DEMO_TOTEM_FILE: &str = "demo-totem.json";

/// Arguments of `up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Where `up` keeps its PostgreSQL data (reused between runs).
    #[arg(long, env = "MALHA_DATA_DIR", default_value = local::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Port of the private PostgreSQL.
    #[arg(long, env = "MALHA_PG_PORT", default_value_t = 54329)]
    pub pg_port: u16,

    /// Port of the private NATS server.
    #[arg(long, env = "MALHA_NATS_PORT", default_value_t = 4222)]
    pub nats_port: u16,

    /// Where the JSON edge listens (HTTP/JSON for every RPC, OpenAPI at /openapi.json).
    #[arg(long, env = "MALHA_EDGE_ADDR", default_value = "0.0.0.0:8080")]
    pub edge_addr: std::net::SocketAddr,

    /// Which edge serves the JSON API: Malha's own, or the real Envoy
    /// (`envoy` on PATH, or ENVOY) with the chart's edge config.
    #[arg(long, env = "MALHA_EDGE", value_enum, default_value_t = EdgeKind::Local)]
    pub edge: EdgeKind,

    /// Skip loading the demo data.
    #[arg(long)]
    pub no_seed: bool,

    /// Run every target as its own `malha serve --target <t>` process (with
    /// its own service account), the edge routing to each: the local
    /// picture of the cluster.
    #[arg(long)]
    pub split: bool,

    /// With --split: processes per target, e.g. `orders=2,identity=2`
    /// (calls are spread over them by the callers' clients and the edge).
    #[arg(long, requires = "split", value_name = "TARGET=N,...")]
    pub replicas: Option<Replicas>,

    /// With --split: the processes query through a private PgBouncer in
    /// transaction mode (one database alias per service schema), as with the
    /// chart's `pgbouncer.enabled`; their listeners and migrations go to
    /// PostgreSQL itself (DATABASE_DIRECT_URL). Needs PgBouncer 1.21+.
    #[arg(long, requires = "split")]
    pub pgbouncer: bool,

    #[command(flatten)]
    pub config: Settings,
}

/// The JSON edge `up` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EdgeKind {
    /// Malha's own edge, in this process.
    Local,
    /// The real Envoy, as the chart deploys it, in a child process.
    Envoy,
}

/// The edge `up` started.
enum Edge {
    Local(malha_edge::RunningEdge),
    Envoy(super::envoy::RunningEnvoy),
}

impl Edge {
    async fn start(args: &UpArgs, root: &std::path::Path, grpc_port: u16) -> anyhow::Result<Self> {
        match args.edge {
            EdgeKind::Local => Ok(Self::Local(
                malha_edge::start_with_sites(
                    args.edge_addr,
                    format!("http://127.0.0.1:{grpc_port}"),
                    targets::SITES,
                )
                .await?,
            )),
            EdgeKind::Envoy => {
                let addrs = super::envoy::LocalAddrs {
                    edge: args.edge_addr,
                    grpc_port,
                    admin_port: free_port()?,
                    metrics_port: free_port()?,
                };
                let envoy = super::envoy::start(&root.join("envoy"), &addrs).await?;
                Ok(Self::Envoy(envoy))
            }
        }
    }

    fn port(&self, args: &UpArgs) -> u16 {
        match self {
            Self::Local(edge) => edge.addr.port(),
            Self::Envoy(_) => args.edge_addr.port(),
        }
    }

    fn label(&self) -> String {
        match self {
            Self::Local(_) => "JSON edge (OpenAPI at /openapi.json)     ".to_owned(),
            Self::Envoy(envoy) => format!("{:<41}", format!("JSON edge (Envoy {})", envoy.version)),
        }
    }

    async fn stop(self) -> anyhow::Result<()> {
        match self {
            Self::Local(edge) => {
                edge.shutdown();
                edge.wait().await
            }
            Self::Envoy(envoy) => {
                eprintln!("stopping envoy");
                envoy.stop().await;
                Ok(())
            }
        }
    }
}

/// A port nothing listens on now (for Envoy's admin and metrics listeners).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(super) async fn run(mut args: UpArgs) -> anyhow::Result<()> {
    let signal = malha_kit::server::shutdown_signal()?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let root = std::fs::canonicalize(&args.data_dir)?;
    if args.config.auth.key_encryption_key.is_none() {
        args.config.auth.key_encryption_key = Some(local::key_encryption_key_in(&root)?);
    }
    let mut nats = None;
    if args.config.nats_url.is_none() {
        malha_local::find_nats_server()?;
        eprintln!(
            "starting nats-server (JetStream) on port {}",
            args.nats_port
        );
        let server = NatsServer::start_persistent(&root.join("nats"), args.nats_port).await?;
        args.config.nats_url = Some(server.url());
        nats = Some(server);
    }
    let mut cluster = None;
    if args.config.database_url.is_none() {
        PgBinaries::find()?;
        let data_dir = root.join("postgres");
        eprintln!(
            "starting PostgreSQL in {} on port {}",
            data_dir.display(),
            args.pg_port
        );
        let pg = PgCluster::start(&data_dir, args.pg_port).await?;
        pg.create_database("malha").await?;
        // For `malha keys` and `malha migrate` run next to this `up`.
        local::write_database_url(&root, &pg.url("malha"))?;
        args.config.database_url = Some(Secret::new(pg.url("malha")));
        cluster = Some(pg);
    }

    // A laptop needs no payment provider account: the local Pix provider
    // signs its webhook notifications with this secret (printed below).
    let payments = args.config.services.get_mut::<PaymentsConfig>();
    if payments.webhook_secret.is_none() {
        payments.webhook_secret = Some(Secret::new(DEV_WEBHOOK_SECRET));
    }
    // Without an SMTP server, activation e-mails land as `.eml` files beside
    // the data (printed below), where a person can open them.
    let mail = args.config.services.get_mut::<MailSettings>();
    if mail.smtp_url.is_none() && mail.mail_dir == MailSettings::default().mail_dir {
        mail.mail_dir = root.join("mail");
    }
    anyhow::ensure!(
        !(args.split && args.edge == EdgeKind::Envoy),
        "--edge envoy fronts the targets served in this process; with --split, Malha's edge routes to each process"
    );
    let result = if args.split {
        run_split(&args, &root, signal).await
    } else {
        run_in_process(&args, &root, signal).await
    };
    if let Some(pg) = cluster {
        eprintln!("stopping PostgreSQL");
        pg.stop().await;
    }
    if let Some(mut server) = nats {
        eprintln!("stopping nats-server");
        server.stop();
    }
    eprintln!("malha stopped");
    result
}

/// Every target in this process, the edge beside it.
async fn run_in_process(
    args: &UpArgs,
    root: &Path,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let targets = targets::resolve("all")?;
    let server = app::start(&args.config, &targets).await?;
    let grpc = format!("http://127.0.0.1:{}", server.grpc_addr.port());
    wait_until_serving(&grpc, Duration::from_secs(60)).await?;
    let edge = Edge::start(args, root, server.grpc_addr.port()).await?;
    let clinic = if args.no_seed {
        None
    } else {
        Some(seed_all(&grpc, root).await?)
    };
    print_banner(
        args,
        server.grpc_addr.port(),
        server.admin_addr.port(),
        edge.port(args),
        &edge.label(),
        clinic.as_ref(),
    );
    let result = server.run_until(signal).await;
    edge.stop().await?;
    result
}

/// Every target in processes of its own (`--split`), the edge in front.
async fn run_split(
    args: &UpArgs,
    root: &Path,
    signal: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let config = &args.config;
    let mut per_target: BTreeMap<&'static str, Vec<(&'static str, String)>> = BTreeMap::new();
    if let Some(secret) = &config.services.get::<PaymentsConfig>().webhook_secret {
        per_target.insert(
            "payments",
            vec![("MALHA_PAYMENTS_WEBHOOK_SECRET", secret.expose().to_owned())],
        );
    }
    let mail = config.services.get::<MailSettings>();
    per_target.insert(
        "identity",
        vec![("MALHA_MAIL_DIR", mail.mail_dir.display().to_string())],
    );
    let database_url = config.database_url.as_ref().context("no database URL")?;
    let bouncer = if args.pgbouncer {
        let bouncer = split::pgbouncer(root, database_url).await?;
        eprintln!(
            "PgBouncer (transaction mode) in front of PostgreSQL: {}",
            bouncer.url("<schema>")
        );
        Some(bouncer)
    } else {
        None
    };
    let shared = split::Shared {
        root,
        database_url,
        pgbouncer: bouncer.as_ref(),
        nats_url: config.nats_url.as_deref().context("no NATS URL")?,
        key_encryption_key: config
            .auth
            .key_encryption_key
            .as_ref()
            .context("no key-encryption key")?,
        per_target,
    };
    let mut fleet = split::start(&shared, &args.replicas.clone().unwrap_or_default()).await?;
    let edge =
        malha_edge::start_with_sites(args.edge_addr, fleet.upstreams(), targets::SITES).await?;
    // The edge passes native gRPC through to each service's processes, so
    // one address serves every service, as Envoy's does in the cluster.
    let via_edge = format!("http://127.0.0.1:{}", edge.addr.port());
    wait_until_serving(&via_edge, Duration::from_secs(30)).await?;
    let clinic = if args.no_seed {
        None
    } else {
        Some(seed_all(&via_edge, root).await?)
    };
    println!("\nProcesses (malha serve --target <t>; each its own service account):");
    for p in &fleet.processes {
        println!(
            "  {:<14} pid {:<8} gRPC {}   metrics http://{}/metrics",
            p.label(),
            p.pid().map(|pid| pid.to_string()).unwrap_or_default(),
            p.grpc,
            p.admin
        );
    }
    let first_admin = fleet.processes.first().map_or(0, |p| p.admin.port());
    print_banner(
        args,
        edge.addr.port(),
        first_admin,
        edge.addr.port(),
        "JSON edge (OpenAPI at /openapi.json)     ",
        clinic.as_ref(),
    );

    let mut signal = std::pin::pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            exited = fleet.exited() => eprintln!("{exited}; the others keep running (Ctrl-C stops everything)"),
        }
    }
    eprintln!("stopping the processes (SIGTERM, callers first)");
    edge.shutdown();
    fleet.stop().await;
    edge.wait().await
}

/// The demo data, through `url`.
/// The demo data, through `url`; the clinic's unit and its totem account.
async fn seed_all(url: &str, root: &Path) -> anyhow::Result<(String, seed::TotemAccount)> {
    seed::demo(url).await.context("loading the demo data")?;
    seed::snack_bar_menu(url)
        .await
        .context("loading the snack-bar menu")?;
    let unit = seed::clinic(url).await.context("loading the demo clinic")?;
    let totem = seed::demo_totem(url, &root.join(DEMO_TOTEM_FILE))
        .await
        .context("setting up the demo clinic's totem")?;
    seed::hospital(url)
        .await
        .context("loading the demo hospital")?;
    Ok((unit, totem))
}

/// Polls `grpc.health.v1` until the overall status is SERVING.
pub async fn wait_until_serving(url: &str, timeout: Duration) -> anyhow::Result<()> {
    wait_until_serving_every(url, Duration::from_millis(200), timeout).await
}

/// [`wait_until_serving`], polling every `period`.
pub async fn wait_until_serving_every(
    url: &str,
    period: Duration,
    timeout: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if let Ok(channel) = tonic::transport::Endpoint::from_shared(url.to_owned())?
            .connect()
            .await
            && let Ok(response) = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
            && response.into_inner().status == ServingStatus::Serving as i32
        {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < timeout,
            "Malha did not become SERVING within {timeout:?}; see the log above"
        );
        tokio::time::sleep(period).await;
    }
}

fn print_banner(
    args: &UpArgs,
    grpc: u16,
    admin: u16,
    edge: u16,
    edge_label: &str,
    clinic: Option<&(String, seed::TotemAccount)>,
) {
    let database = args.config.database_url.as_ref().map_or("", Secret::expose);
    let nats = args.config.nats_url.as_deref().unwrap_or_default();
    // Only the built-in development secret is ever printed.
    let webhook = match &args.config.services.get::<PaymentsConfig>().webhook_secret {
        Some(secret) if secret.expose() == DEV_WEBHOOK_SECRET => DEV_WEBHOOK_SECRET,
        _ => "(set by MALHA_PAYMENTS_WEBHOOK_SECRET)",
    };
    let mail = args.config.services.get::<MailSettings>();
    let mail = match mail.smtp_url {
        Some(_) => "sent through MALHA_SMTP_URL".to_owned(),
        None => format!(
            "written as .eml files under {}   (set MALHA_SMTP_URL to send them)",
            mail.mail_dir.display()
        ),
    };
    let clinic = clinic.map_or_else(String::new, |(unit, totem)| {
        let edge = format!("http://localhost:{edge}");
        format!(
            "\n\n  clinic TV panel      {edge}/panel/{unit}\
             \n  clinic totem         {}\
             \n                       (setup link: open it once on the totem; the page keeps the account)\
             \n  clinic staff         username rita (reception), dr.paulo (doctor)   password {DEMO_CLINIC_PASSWORD}",
            totem.setup_link(&edge, unit)
        )
    });
    println!(
        "\nMalha is up.\n\
         \n  gRPC (every service, reflection, health)  localhost:{grpc}\
         \n  {edge_label} http://localhost:{edge}\
         \n  metrics                                   http://localhost:{admin}/metrics\
         \n  liveness / readiness                      http://localhost:{admin}/healthz  /readyz\
         \n  PostgreSQL                                {database}\
         \n  NATS JetStream                            {nats}   (malha events tail)\
         \n\n  demo administrator   username {DEMO_ADMIN_USERNAME}  password {DEMO_ADMIN_PASSWORD}\
         \n  demo employee        username ana    password malha-employee\
         \n  demo nurse           username bia    password malha-nurse        (Asky)\
         \n  demo pharmacist      username caio   password malha-pharmacist   (Asky)\
         \n  demo customer        CPF {DEMO_CUSTOMER_CPF}\
         \n  Pix webhook secret   {webhook}   (local Pix provider; development only)\
         \n  activation e-mails   {mail}{clinic}\
         \n\n  try:  grpcurl -plaintext localhost:{grpc} list\
         \n        TOKEN=$(malha token)\
         \n        grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" localhost:{grpc} malha.identity.v1.IdentityService/ListCustomers\
         \n\nCtrl-C stops everything.\n"
    );
}
