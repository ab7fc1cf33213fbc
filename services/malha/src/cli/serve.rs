//! `malha serve --target <svc,...|all>`, and `edge` (the JSON edge: alone it
//! proxies to `MALHA_UPSTREAM_URL`; beside services, to this process's own
//! gRPC server). `edge` is not in `targets::TARGETS`, which lists the
//! deployable gRPC services.

use std::net::SocketAddr;

use crate::settings::Settings;
use crate::{app, targets};

/// The name that selects the JSON edge in `--target`.
const EDGE: &str = "edge";

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Services to host: a comma-separated list of targets, or `all`; add
    /// `edge` for the JSON edge (`--target edge` runs the edge alone).
    #[arg(long, env = "MALHA_TARGET", default_value = "all")]
    pub target: String,

    /// Where the JSON edge listens (with `--target edge`).
    #[arg(long, env = "MALHA_EDGE_ADDR", default_value = "0.0.0.0:8080")]
    pub edge_addr: SocketAddr,

    /// The gRPC server the edge transcodes to. Default: this process's own
    /// gRPC server when it hosts services, else http://127.0.0.1:50051.
    #[arg(long, env = "MALHA_UPSTREAM_URL")]
    pub upstream_url: Option<String>,

    #[command(flatten)]
    pub config: Settings,
}

pub(super) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let signal = malha_kit::server::shutdown_signal()?;
    let (with_edge, services) = split_edge(&args.target);
    if !with_edge {
        let targets = targets::resolve(&args.target)?;
        let server = app::start(&args.config, &targets).await?;
        return server.run_until(signal).await;
    }
    if services.is_empty() {
        let upstream = args
            .upstream_url
            .unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
        let edge = malha_edge::start_with_sites(args.edge_addr, &upstream, targets::SITES).await?;
        return edge.run_until(signal).await;
    }
    let targets = targets::resolve(&services)?;
    let server = app::start(&args.config, &targets).await?;
    let upstream = args
        .upstream_url
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", server.grpc_addr.port()));
    let edge = malha_edge::start_with_sites(args.edge_addr, &upstream, targets::SITES).await?;
    let result = server.run_until(signal).await;
    edge.shutdown();
    edge.wait().await?;
    result
}

/// Whether `spec` names the edge, and the service targets it names besides.
fn split_edge(spec: &str) -> (bool, String) {
    let names: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let with_edge = names.contains(&EDGE);
    let services: Vec<&str> = names.into_iter().filter(|n| *n != EDGE).collect();
    (with_edge, services.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edge_is_split_from_the_service_targets() {
        assert_eq!(split_edge("edge"), (true, String::new()));
        assert_eq!(split_edge("identity, edge"), (true, "identity".into()));
        assert_eq!(split_edge("all"), (false, "all".into()));
        assert_eq!(split_edge("all,edge"), (true, "all".into()));
    }
}
