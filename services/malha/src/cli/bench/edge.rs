//! Target 6, the edge: the same JSON route through Malha's own edge and
//! through the real Envoy running the chart's edge config (both in front of
//! the bench's full server), side by side: req/s and latency under the same
//! load, and CPU per call of each edge process. Envoy's per-address rate
//! limit is taken out of its config here: one load generator is one address,
//! and the bench measures transcoding, not the limiter. Its access log and
//! (absent a collector) its tracing stay as shipped.

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use super::Bench;
use super::load::{self, Figures};
use crate::cli::envoy;

/// A public unary GET that reads no database: the edges' own cost shows.
const ROUTE: &str = "/.well-known/jwks.json";
const CALLS: u64 = 10_000;

pub(super) async fn run(bench: &mut Bench, dir: &Path) -> anyhow::Result<()> {
    let upstream = format!("http://{}", bench.full);
    let local = malha_edge::start("127.0.0.1:0".parse()?, &upstream).await?;
    let grpc_port = bench.full.rsplit(':').next().unwrap_or_default().parse()?;
    let free = || -> anyhow::Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    };
    let addrs = envoy::LocalAddrs {
        edge: format!("127.0.0.1:{}", free()?).parse()?,
        grpc_port,
        admin_port: free()?,
        metrics_port: free()?,
    };
    let proxy = envoy::start_with(&dir.join("envoy"), &addrs, |cfg| {
        if let Some(filters) = envoy::http_filters(cfg) {
            filters.retain(|f| f["name"] != "envoy.filters.http.local_ratelimit");
        }
    })
    .await?;
    let pid = proxy.pid().context("envoy has no pid")?.to_string();
    let local_url = format!("http://{}{ROUTE}", local.addr);
    let envoy_url = format!("http://{}{ROUTE}", addrs.edge);
    for url in [&local_url, &envoy_url] {
        prove_ok(&bench.h2load, url).await?;
    }

    let (mut local_best, mut envoy_best) = (Vec::new(), Vec::new());
    for _ in 0..bench.rounds {
        local_best.push(timed(bench, &local_url).await?);
        envoy_best.push(timed(bench, &envoy_url).await?);
    }
    let (local_figures, envoy_figures) =
        (Figures::combine(&local_best), Figures::combine(&envoy_best));
    bench.measured(
        "6 edge",
        format!("GET {ROUTE}, Malha's edge"),
        local_figures,
    );
    bench.measured(
        "6 edge",
        format!("GET {ROUTE}, Envoy {}", proxy.version),
        envoy_figures,
    );

    // CPU per call: Malha's process (its edge and the service) through its
    // own edge; Envoy's process, and Malha's (the service alone), through Envoy.
    let (mut own, mut envoy_cpu, mut service) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..bench.rounds {
        let before = load::process_cpu()?;
        calls(&bench.h2load, &local_url).await?;
        own = own.min(per_call(load::process_cpu()? - before));
        let (before, envoy_before) = (load::process_cpu()?, load::cpu_of(&pid)?);
        calls(&bench.h2load, &envoy_url).await?;
        envoy_cpu = envoy_cpu.min(per_call(load::cpu_of(&pid)? - envoy_before));
        service = service.min(per_call(load::process_cpu()? - before));
    }
    bench.compared(
        "6 edge",
        "CPU per call: Envoy / Malha's edge + service",
        format!("{envoy_cpu:.1} µs"),
        format!("{own:.1} µs"),
        envoy_cpu / own.max(0.001),
    );
    bench.compared(
        "6 edge",
        "CPU per call behind Envoy: service / via own edge",
        format!("{service:.1} µs"),
        format!("{own:.1} µs"),
        service / own.max(0.001),
    );
    proxy.stop().await;
    local.shutdown();
    local.wait().await
}

fn per_call(cpu: std::time::Duration) -> f64 {
    cpu.as_secs_f64() * 1e6 / CALLS as f64
}

/// h2load over HTTP/1.1 (what JSON clients speak), the bench's shape.
fn h2load_h1(h2load: &Path, url: &str) -> Command {
    let mut command = Command::new(h2load);
    command.args(["--h1", "-t", "1"]).arg(url);
    command
}

/// One request must answer 200, or the load figures would measure errors.
async fn prove_ok(h2load: &Path, url: &str) -> anyhow::Result<()> {
    let mut command = h2load_h1(h2load, url);
    command.args(["-n", "1", "-c", "1"]);
    let output = load::output_of(command).await?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success() && text.contains("status codes: 1 2xx"),
        "{url} does not answer 200: {text}"
    );
    Ok(())
}

/// Load for the bench's duration: req/s (latencies are not logged by
/// h2load over HTTP/1.1, so the percentiles stay empty).
async fn timed(bench: &Bench, url: &str) -> anyhow::Result<Figures> {
    let shape = bench.shape;
    let mut command = h2load_h1(&bench.h2load, url);
    command.args(["-c", &shape.concurrency.to_string()]).args([
        "-D",
        &shape.duration.as_secs().to_string(),
        "--warm-up-time",
        "1",
    ]);
    let output = load::output_of(command).await.context("running h2load")?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "h2load failed: {text}");
    let rps = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|part| part.trim_end_matches(" req/s").parse::<f64>().ok())
        .context("h2load printed no req/s")?;
    let not_ok = text
        .lines()
        .find(|l| l.starts_with("status codes:"))
        .map_or(0, |l| {
            l.split(", ")
                .filter(|p| !p.ends_with("2xx"))
                .filter_map(|p| p.split_whitespace().rev().nth(1)?.parse::<u64>().ok())
                .sum()
        });
    Ok(Figures {
        rps,
        p50_ms: 0.0,
        p99_ms: 0.0,
        errors: not_ok,
        spread: 0.0,
    })
}

/// Exactly `CALLS` requests, as fast as they go.
async fn calls(h2load: &Path, url: &str) -> anyhow::Result<()> {
    let mut command = h2load_h1(h2load, url);
    command.args(["-n", &CALLS.to_string(), "-c", "16"]);
    let output = load::output_of(command).await.context("running h2load")?;
    anyhow::ensure!(
        output.status.success(),
        "h2load failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    Ok(())
}
