//! `malha bench`: the performance targets, measured side by side in one run
//! on this machine, each against a reference measured in the same run (never
//! a hard-coded number), printed with the ratio and PASS/FAIL. Load comes
//! from independent tools: `h2load`, `ghz` and `pgbench`.

mod auth;
mod care;
mod db;
mod edge;
mod footprint;
mod latency;
mod load;
mod outcomes;
mod paid;
mod pharmacy;
mod queue;
mod storm;
mod writes;

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::{app, targets};
use load::{Figures, Shape};
use malha_api::identity::BootstrapAdminRequest;
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_kit::config::{AuthConfig, Secret, ServeConfig};

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Seconds of load per scenario.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent in-flight calls.
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// HTTP/2 connections the calls are spread over.
    #[arg(long, default_value_t = 2)]
    pub connections: usize,
    /// Rounds of alternating reference and Malha runs (drift on a shared
    /// machine then hits both alike).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Only these targets (comma-separated: auth, db, events, storm,
    /// footprint, queue, asky, writes; and edge: Malha's edge and the real
    /// Envoy side by side, needs `envoy`).
    #[arg(
        long,
        default_value = "auth,db,events,storm,footprint,queue,asky,writes"
    )]
    pub only: String,
    /// Profile the database side of the write targets: load
    /// pg_stat_statements and print, after each, the statements that took
    /// the most PostgreSQL time, per write.
    #[arg(long)]
    pub statements: bool,
}

/// What every scenario needs.
pub(super) struct Bench {
    ghz: PathBuf,
    h2load: PathBuf,
    protoset: PathBuf,
    full: String,
    /// The full server's admin HTTP address (its `/metrics`).
    admin: String,
    bare: String,
    token: String,
    database_url: String,
    nats_url: String,
    pgbench: PathBuf,
    pg_port: u16,
    /// The PostgreSQL cluster's data directory (its postmaster.pid).
    pg_data: PathBuf,
    /// `--statements`: pg_stat_statements is loaded.
    statements: bool,
    nats_pid: Option<u32>,
    shape: Shape,
    rounds: usize,
    rows: Vec<Row>,
}

/// One line of the report.
struct Row {
    target: &'static str,
    scenario: String,
    figures: Option<Figures>,
    value: String,
    reference: String,
    ratio: Option<f64>,
    goal: String,
    pass: Option<bool>,
    /// The spread of the reference's rounds, when it has rounds.
    reference_spread: Option<f64>,
}

/// A reference whose rounds lie further apart than this makes its row noisy:
/// the machine, not Malha, moved.
const NOISY: f64 = 0.10;

pub(super) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let ghz = load::ghz()?;
    let h2load = load::h2load()?;
    let pg = if args.statements {
        malha_local::PgCluster::start_ephemeral_with(&[
            ("shared_preload_libraries", "pg_stat_statements"),
            ("pg_stat_statements.track", "all"),
        ])
        .await?
    } else {
        malha_local::PgCluster::start_ephemeral().await?
    };
    pg.create_database("bench").await?;
    let nats = malha_local::NatsServer::start_ephemeral().await?;
    let dir = tempfile::tempdir()?;
    let protoset = dir.path().join("malha.protoset");
    // Two serialized FileDescriptorSets concatenated are one valid set.
    let mut set = malha_api::FILE_DESCRIPTOR_SET.to_vec();
    set.extend_from_slice(tonic_health::pb::FILE_DESCRIPTOR_SET);
    std::fs::write(&protoset, set)?;

    let config = ServeConfig {
        grpc_addr: "127.0.0.1:0".parse()?,
        admin_addr: "127.0.0.1:0".parse()?,
        database_url: Some(Secret::new(pg.url("bench"))),
        database_direct_url: None,
        nats_url: Some(nats.url()),
        db_max_connections: 16,
        migrate_on_start: true,
        auth: AuthConfig::with_identity(None),
        services: Default::default(),
        shutdown_delay_seconds: 0,
        shutdown_grace_seconds: 5,
        max_connection_age_seconds: 3600,
    };
    let mut config = config;
    // The paid-order chain's webhook notifications are signed with it.
    config
        .services
        .get_mut::<malha_payments::PaymentsConfig>()
        .webhook_secret = Some(Secret::new(paid::WEBHOOK_SECRET));
    let server = app::start(&config, &targets::resolve("all")?).await?;
    let full = format!("127.0.0.1:{}", server.grpc_addr.port());
    super::up::wait_until_serving(&format!("http://{full}"), Duration::from_secs(30)).await?;
    let token = IdentityServiceClient::connect(format!("http://{full}"))
        .await?
        .bootstrap_admin(BootstrapAdminRequest {
            name: "Bench".into(),
            email: "bench@malha.local".into(),
            username: "bench".into(),
            password: "bench password".into(),
        })
        .await?
        .into_inner()
        .tokens
        .map(|t| t.access_token)
        .unwrap_or_default();

    let mut bench = Bench {
        ghz,
        h2load,
        protoset,
        bare: bare_server().await?,
        full,
        admin: server.admin_addr.to_string(),
        token,
        database_url: pg.url("bench"),
        nats_url: nats.url(),
        pgbench: pgbench()?,
        pg_port: pg.port(),
        pg_data: pg.data_dir().to_path_buf(),
        nats_pid: nats.pid(),
        shape: Shape {
            concurrency: args.concurrency,
            connections: args.connections,
            duration: Duration::from_secs(args.seconds),
            rps: 0,
        },
        rounds: args.rounds.max(1),
        statements: args.statements,
        rows: Vec::new(),
    };
    println!(
        "malha bench: {} s per scenario, {} in flight over {} connections, {} cores; load from h2load, ghz and pgbench",
        args.seconds,
        args.concurrency,
        args.connections,
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    let only: Vec<&str> = args.only.split(',').map(str::trim).collect();
    if only.contains(&"auth") {
        auth::run(&mut bench).await?;
    }
    if only.contains(&"db") {
        db::run(&mut bench).await?;
    }
    if only.contains(&"events") {
        latency::run(&mut bench).await?;
    }
    if only.contains(&"storm") {
        storm::run(&mut bench).await?;
    }
    if only.contains(&"footprint") {
        footprint::run(&mut bench).await?;
    }
    if only.contains(&"queue") {
        queue::run(&mut bench).await?;
    }
    if only.contains(&"edge") {
        edge::run(&mut bench, dir.path()).await?;
    }
    if only.contains(&"asky") {
        pharmacy::run(&mut bench).await?;
        care::run(&mut bench).await?;
    }
    if only.contains(&"writes") {
        writes::run(&mut bench).await?;
    }
    bench.print();

    server.shutdown();
    server.wait().await?;
    pg.stop().await;
    drop(nats);
    Ok(())
}

fn pgbench() -> anyhow::Result<PathBuf> {
    let dir = malha_local::PgBinaries::find()?.bin_dir().to_path_buf();
    [dir.join("pgbench"), PathBuf::from("/usr/bin/pgbench")]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "pgbench not found; install it with: sudo apt-get install -y postgresql-contrib"
            )
        })
}

/// A tonic server with nothing but the health service: the reference.
async fn bare_server() -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (reporter, health) = tonic_health::server::health_reporter();
    // Same socket options as Malha's server (TCP_NODELAY), so only the
    // layers differ.
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |conn| {
            if let Ok(stream) = &conn {
                let _ = stream.set_nodelay(true);
            }
            conn
        },
    );
    tokio::spawn(async move {
        // The reporter must outlive the server or Check answers NOT_FOUND.
        let _keep = reporter;
        let _ = tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(incoming)
            .await;
    });
    Ok(addr.to_string())
}

impl Bench {
    /// The PostgreSQL postmaster's process id (first line of postmaster.pid).
    fn postmaster_pid(&self) -> anyhow::Result<u32> {
        let text = std::fs::read_to_string(self.pg_data.join("postmaster.pid"))?;
        Ok(text.lines().next().unwrap_or_default().trim().parse()?)
    }

    /// `message` with the bench's bearer token.
    fn authed<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {}", self.token).parse()?);
        Ok(request)
    }

    async fn call(
        &self,
        addr: &str,
        call: &str,
        data: &str,
        auth: bool,
        shape: Shape,
    ) -> anyhow::Result<Figures> {
        let token = auth.then_some(self.token.as_str());
        load::run(&self.ghz, &self.protoset, addr, call, data, token, shape).await
    }

    /// h2load against the full server with the bench's token. Errors are
    /// the calls the server itself counted as failed: a gRPC error rides in
    /// an HTTP 200 response, which is all h2load checks.
    async fn h2load_full(
        &self,
        path: &str,
        message: &[u8],
        shape: load::H2Shape,
    ) -> anyhow::Result<Figures> {
        let before = outcomes::read(&self.admin, path).await?;
        let mut figures = load::h2load_run(
            &self.h2load,
            &self.full,
            path,
            message,
            Some(&self.token),
            shape,
        )
        .await?;
        let done = outcomes::read(&self.admin, path).await?.since(&before);
        anyhow::ensure!(
            done.ok > 0,
            "{path} answered no call OK under load (failed: {:?})",
            done.failed
        );
        // Calls h2load drops in flight when its time is up are counted
        // CANCELLED by the server (not a failure); anything else is.
        let failures = done.failures();
        if failures > 0 {
            eprintln!(
                "{path}: calls that failed under load, by code: {:?}",
                done.failed
            );
        }
        figures.errors += failures;
        Ok(figures)
    }

    fn measured(&mut self, target: &'static str, scenario: impl Into<String>, figures: Figures) {
        self.rows.push(Row {
            target,
            scenario: scenario.into(),
            value: format!("{:.0} req/s", figures.rps),
            figures: Some(figures),
            reference: String::new(),
            ratio: None,
            goal: String::new(),
            pass: None,
            reference_spread: None,
        });
    }

    /// The spread of the last row's reference rounds (see [`NOISY`]).
    fn reference_spread(&mut self, spread: f64) {
        if let Some(row) = self.rows.last_mut() {
            row.reference_spread = Some(spread);
        }
    }

    /// A ratio against the reference, to explain others (no goal).
    fn compared(
        &mut self,
        target: &'static str,
        scenario: impl Into<String>,
        value: String,
        reference: String,
        ratio: f64,
    ) {
        self.rows.push(Row {
            target,
            scenario: scenario.into(),
            figures: None,
            value,
            reference,
            ratio: Some(ratio),
            goal: String::new(),
            pass: None,
            reference_spread: None,
        });
    }

    /// A ratio against the reference with its goal.
    #[allow(clippy::too_many_arguments)]
    fn judged(
        &mut self,
        target: &'static str,
        scenario: impl Into<String>,
        figures: Option<Figures>,
        value: String,
        reference: String,
        ratio: f64,
        goal: String,
        pass: bool,
    ) {
        self.rows.push(Row {
            target,
            scenario: scenario.into(),
            figures,
            value,
            reference,
            ratio: Some(ratio),
            goal,
            pass: Some(pass),
            reference_spread: None,
        });
    }

    fn print(&self) {
        println!(
            "\n{:<10} {:<46} {:>14} {:>5} {:>9} {:>9} {:>16} {:>5} {:>7} {:>12} result",
            "target",
            "scenario",
            "value",
            "±",
            "p50 ms",
            "p99 ms",
            "reference",
            "±",
            "ratio",
            "goal"
        );
        let percent = |spread: Option<f64>| {
            spread
                .filter(|s| *s > 0.0)
                .map(|s| format!("{:.0}%", s * 100.0))
                .unwrap_or_default()
        };
        for row in &self.rows {
            let (p50, p99) = row.figures.map_or((String::new(), String::new()), |f| {
                (format!("{:.3}", f.p50_ms), format!("{:.3}", f.p99_ms))
            });
            let errors = row.figures.map_or(0, |f| f.errors);
            let noisy = row.reference_spread.is_some_and(|s| s > NOISY);
            println!(
                "{:<10} {:<46} {:>14} {:>5} {:>9} {:>9} {:>16} {:>5} {:>7} {:>12} {}{}{}",
                row.target,
                row.scenario,
                row.value,
                percent(row.figures.map(|f| f.spread)),
                p50,
                p99,
                row.reference,
                percent(row.reference_spread),
                row.ratio.map(|r| format!("{r:.2}")).unwrap_or_default(),
                row.goal,
                match row.pass {
                    Some(true) => "PASS",
                    Some(false) => "FAIL",
                    None => "",
                },
                if noisy { " (noisy reference)" } else { "" },
                if errors > 0 {
                    format!("  ({errors} errors)")
                } else {
                    String::new()
                },
            );
        }
    }
}
