//! `malha serve --target <svc,...|all>`.

use crate::{app, targets};
use malha_kit::config::ServeConfig;

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Services to host: a comma-separated list of targets, or `all`.
    #[arg(long, env = "MALHA_TARGET", default_value = "all")]
    pub target: String,

    #[command(flatten)]
    pub config: ServeConfig,
}

pub(super) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let signal = malha_kit::server::shutdown_signal()?;
    let targets = targets::resolve(&args.target)?;
    let server = app::start(&args.config, &targets).await?;
    server.run_until(signal).await
}
