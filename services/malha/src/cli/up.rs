//! `malha up`: everything on this machine with one command. Without
//! DATABASE_URL it runs a private PostgreSQL from the machine's server
//! binaries in a data directory of its own (reused by the next `up`),
//! migrates, serves every target, loads demo data, prints where everything
//! is, and stops it all on Ctrl-C.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use super::local;
use super::seed::{self, DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, DEMO_CUSTOMER_CPF};
use crate::settings::Settings;
use crate::{app, targets};
use malha_identity::mail::MailSettings;
use malha_kit::config::Secret;
use malha_local::{NatsServer, PgBinaries, PgCluster};
use malha_payments::PaymentsConfig;

/// The webhook secret `malha up` uses unless MALHA_PAYMENTS_WEBHOOK_SECRET is set.
pub const DEV_WEBHOOK_SECRET: &str = "malha-dev-webhook-secret";

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

    /// Skip loading the demo data.
    #[arg(long)]
    pub no_seed: bool,

    #[command(flatten)]
    pub config: Settings,
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
    let targets = targets::resolve("all")?;
    let server = app::start(&args.config, &targets).await?;
    let grpc = format!("http://127.0.0.1:{}", server.grpc_addr.port());
    wait_until_serving(&grpc, Duration::from_secs(60)).await?;
    let edge = malha_edge::start(args.edge_addr, &grpc).await?;
    if !args.no_seed {
        seed::demo(&grpc).await.context("loading the demo data")?;
        seed::snack_bar_menu(&grpc)
            .await
            .context("loading the snack-bar menu")?;
        seed::clinic(&grpc)
            .await
            .context("loading the demo clinic")?;
    }
    print_banner(&args, &server, edge.addr.port());

    let result = server.run_until(signal).await;
    edge.shutdown();
    edge.wait().await?;
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

fn print_banner(args: &UpArgs, server: &malha_kit::server::RunningServer, edge: u16) {
    let grpc = server.grpc_addr.port();
    let admin = server.admin_addr.port();
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
    println!(
        "\nMalha is up.\n\
         \n  gRPC (every service, reflection, health)  localhost:{grpc}\
         \n  JSON edge (OpenAPI at /openapi.json)      http://localhost:{edge}\
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
         \n  activation e-mails   {mail}\
         \n\n  try:  grpcurl -plaintext localhost:{grpc} list\
         \n        TOKEN=$(malha token)\
         \n        grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" localhost:{grpc} malha.identity.v1.IdentityService/ListCustomers\
         \n\nCtrl-C stops everything.\n"
    );
}
