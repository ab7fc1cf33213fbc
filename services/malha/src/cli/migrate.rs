//! `malha migrate`: apply each target's migrations (the Helm hook runs this),
//! revert the last N steps (`--down N`), or list what is applied and pending
//! (`malha migrate status`). Without DATABASE_URL it uses the database of a
//! local `malha up` (see [`super::local`]).

use malha_kit::config::Secret;
use malha_kit::db::migrations::{self, Step};

use super::local;
use crate::targets::{self, Target};

/// Arguments of `migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub command: Option<MigrateCommand>,

    /// Targets to migrate (`all` or a list).
    #[arg(long, env = "MALHA_TARGET", default_value = "all", global = true)]
    pub target: String,

    /// Revert this many of the last applied steps of each target instead of
    /// applying (`--down 1` undoes the newest; a large number, everything).
    #[arg(long, value_name = "N")]
    pub down: Option<usize>,

    /// PostgreSQL URL (default: the database of a local `malha up`).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<Secret>,
}

/// What else `migrate` can do.
#[derive(Debug, clap::Subcommand)]
pub enum MigrateCommand {
    /// List each target's applied and pending migrations.
    Status,
}

pub(super) async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let selected = targets::resolve(&args.target)?;
    let database = local::database_url_or_local(args.database_url).await?;
    let result = match (args.command, args.down) {
        (Some(MigrateCommand::Status), _) => status(&database.url, &selected).await,
        (None, Some(steps)) => down(&database.url, &selected, steps).await,
        (None, None) => up(&database.url, &selected).await,
    };
    database.close().await;
    result
}

async fn up(url: &Secret, selected: &[&'static Target]) -> anyhow::Result<()> {
    for target in selected {
        let pool = targets::pool(url.expose(), None, target, 2)?;
        malha_kit::db::migrate(&pool, target.schema).await?;
        pool.close().await;
        println!("migrated {}", target.name);
    }
    Ok(())
}

/// Reverts in reverse start-up order: a service is taken down before the
/// ones it depends on.
async fn down(url: &Secret, selected: &[&'static Target], steps: usize) -> anyhow::Result<()> {
    for target in selected.iter().rev() {
        let pool = targets::pool(url.expose(), None, target, 2)?;
        let reverted = migrations::revert(&pool, target.schema, steps).await;
        pool.close().await;
        let reverted = reverted?;
        if reverted.is_empty() {
            println!("{}: nothing applied", target.name);
        }
        for step in reverted {
            println!("{}: reverted {}", target.name, describe(&step));
        }
    }
    Ok(())
}

async fn status(url: &Secret, selected: &[&'static Target]) -> anyhow::Result<()> {
    for target in selected {
        let pool = targets::pool(url.expose(), None, target, 2)?;
        let steps = migrations::status(&pool, target.schema).await;
        pool.close().await;
        println!("{}", target.name);
        for step in steps? {
            let state = match step.applied_at {
                Some(at) => format!("applied {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
                None => "pending".to_owned(),
            };
            println!("  {:<40} {state}", describe(&step));
        }
    }
    Ok(())
}

/// `service 0002 service_account_disable`.
fn describe(step: &Step) -> String {
    format!(
        "{} {:04} {}",
        step.track.label(),
        step.version,
        step.description
    )
}
