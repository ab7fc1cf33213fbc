//! The command line: `serve`, `up`, `migrate`, `keys`, `seed`, `token`,
//! `targets`, `descriptor`, `openapi`.

mod bench;
mod chaos;
mod envoy;
mod events;
mod fuzz;
mod keys;
pub mod local;
pub mod migrate;
pub mod seed;
mod serve;
mod split;
mod token;
pub mod up;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::targets;
use malha_kit::telemetry::{self, LogFormat};

/// Malha: gRPC microservices for five real backends, in one binary.
#[derive(Debug, Parser)]
#[command(name = "malha", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format (default: json for `serve`, text otherwise).
    #[arg(long, env = "MALHA_LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

/// Settings read from the environment by telemetry rather than by a flag
/// (the OpenTelemetry SDK reads its own variables), listed so `--help` names them.
const TELEMETRY_ENV: &str = "\
Telemetry (environment):
  OTEL_EXPORTER_OTLP_ENDPOINT  export traces over OTLP/gRPC to this collector, e.g. http://otel-collector:4317
                               (unset: spans keep their ids in the logs but are recorded only when the caller sampled them)
  OTEL_SERVICE_NAME            one service name for every exported span [default: each span's target, e.g. orders]
  RUST_LOG                     log filter, e.g. info,malha_orders=debug
  NO_COLOR                     no colour codes in text logs (they are only used on a terminal anyway)";

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve one, several or all services (`--target identity,orders` or `all`).
    #[command(after_help = TELEMETRY_ENV)]
    Serve(serve::ServeArgs),
    /// Run everything locally: private PostgreSQL, migrations, demo data, every service.
    #[command(after_help = TELEMETRY_ENV)]
    Up(up::UpArgs),
    /// Apply (or `--down N` revert) targets' migrations, or list them
    /// (`migrate status`); the Helm hook runs `malha migrate`.
    Migrate(migrate::MigrateArgs),
    /// Watch the event bus: `malha events tail [subject]`.
    Events(events::EventsArgs),
    /// Manage identity's signing keys.
    Keys(keys::KeysArgs),
    /// Load demo data for every system into a running Malha.
    Seed(seed::SeedArgs),
    /// Print an access token for grpcurl: `-H "authorization: Bearer $(malha token)"`.
    Token(token::TokenArgs),
    /// List the deployable targets (`--graph`: with the targets each one calls).
    Targets {
        /// Print `<target> <callees or ->` per line.
        #[arg(long)]
        graph: bool,
    },
    /// Faults under load: restarts, crashes, database and event-bus outages
    /// against the split fleet, with the invariants checked after each.
    Chaos(chaos::ChaosArgs),
    /// Contract-driven fuzzing: random and malformed requests to every RPC,
    /// as every caller; fails on INTERNAL, UNKNOWN, a hang or a crash.
    Fuzz(fuzz::FuzzArgs),
    /// Measure the kit's overhead and ValidateToken (req/s, p50, p99, ratios).
    Bench(bench::BenchArgs),
    /// Write the contract's descriptor set (for Envoy and other tools).
    Descriptor {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the OpenAPI 3.1 document of the JSON edge (stdout without --out).
    Openapi {
        /// Output file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // The bench's in-process servers log as `serve` does, so what it
    // measures is what runs in production.
    let default_format = match cli.command {
        Command::Serve(_) | Command::Bench(_) => LogFormat::Json,
        _ => LogFormat::Text,
    };
    // Servers log at info; one-shot tools only warn, so their output stays readable.
    let filter = match cli.command {
        Command::Serve(_) | Command::Up(_) | Command::Bench(_) => {
            "info,h2=warn,hyper=warn,tower=warn,sqlx=warn"
        }
        _ => "warn",
    };
    let _telemetry =
        telemetry::init_with("malha", cli.log_format.unwrap_or(default_format), filter)?;
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Up(args) => up::run(args).await,
        Command::Migrate(args) => migrate::run(args).await,
        Command::Keys(args) => keys::run(args).await,
        Command::Events(args) => events::run(args).await,
        Command::Seed(args) => seed::run(args).await,
        Command::Token(args) => token::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Chaos(args) => chaos::run(args).await,
        Command::Fuzz(args) => fuzz::run(args).await,
        Command::Targets { graph } => {
            for target in targets::TARGETS {
                if graph {
                    let calls = if target.calls.is_empty() {
                        "-".to_owned()
                    } else {
                        target.calls.join(",")
                    };
                    println!("{} {calls}", target.name);
                } else {
                    println!("{}", target.name);
                }
            }
            Ok(())
        }
        Command::Descriptor { out } => {
            std::fs::write(&out, malha_api::FILE_DESCRIPTOR_SET)?;
            eprintln!("wrote {}", out.display());
            Ok(())
        }
        Command::Openapi { out } => {
            let text = serde_json::to_string_pretty(&malha_edge::openapi())? + "\n";
            match out {
                Some(out) => {
                    std::fs::write(&out, text)?;
                    eprintln!("wrote {}", out.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
    }
}
