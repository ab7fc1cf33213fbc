//! Load from an independent tool: `ghz` (gRPC benchmarking, `go install`),
//! parsed from its JSON report.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

/// Throughput and latency of one run.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Figures {
    pub(super) rps: f64,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
    pub(super) errors: u64,
}

/// How hard to push.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub(super) concurrency: usize,
    pub(super) connections: usize,
    pub(super) duration: Duration,
    /// Requests per second cap (0: as fast as possible).
    pub(super) rps: u32,
}

/// Finds ghz on PATH or in ~/go/bin, or explains how to install it.
pub(super) fn ghz() -> anyhow::Result<PathBuf> {
    let mut candidates = vec![PathBuf::from("ghz")];
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join("go/bin/ghz"));
    }
    candidates
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
        .context(
            "ghz not found; install it with: go install github.com/bojand/ghz/cmd/ghz@v0.120.0",
        )
}

/// One ghz run of `call` with `data` (JSON) against `addr`.
pub(super) fn run(
    ghz: &Path,
    protoset: &Path,
    addr: &str,
    call: &str,
    data: &str,
    token: Option<&str>,
    shape: Shape,
) -> anyhow::Result<Figures> {
    let mut command = Command::new(ghz);
    command
        .args(["--insecure", "--format", "json", "--call", call, "-d", data])
        .arg("--protoset")
        .arg(protoset)
        .args(["-c", &shape.concurrency.to_string()])
        .args(["--connections", &shape.connections.to_string()])
        .args(["-z", &format!("{}ms", shape.duration.as_millis())])
        .args(["--rps", &shape.rps.to_string()]);
    if let Some(token) = token {
        command.args(["-m", &format!(r#"{{"authorization":"Bearer {token}"}}"#)]);
    }
    let output = command.arg(addr).output().context("running ghz")?;
    anyhow::ensure!(
        output.status.success() || !output.stdout.is_empty(),
        "ghz failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse(&output.stdout)
}

fn parse(json: &[u8]) -> anyhow::Result<Figures> {
    let report: serde_json::Value = serde_json::from_slice(json).context("ghz JSON report")?;
    let percentile = |p: u64| {
        report["latencyDistribution"]
            .as_array()
            .and_then(|all| all.iter().find(|d| d["percentage"].as_u64() == Some(p)))
            .and_then(|d| d["latency"].as_f64())
            .unwrap_or(0.0)
            / 1e6
    };
    let errors = report["statusCodeDistribution"]
        .as_object()
        .map(|codes| {
            codes
                .iter()
                // ghz cancels the calls still in flight when -z ends.
                .filter(|(code, _)| !matches!(code.as_str(), "OK" | "Canceled"))
                .filter_map(|(_, n)| n.as_u64())
                .sum()
        })
        .unwrap_or(0);
    Ok(Figures {
        rps: report["rps"].as_f64().unwrap_or(0.0),
        p50_ms: percentile(50),
        p99_ms: percentile(99),
        errors,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_ghz_report() {
        let figures = super::parse(
            br#"{"rps": 1234.5, "latencyDistribution": [{"percentage": 50, "latency": 1500000},
                 {"percentage": 99, "latency": 4000000}], "statusCodeDistribution": {"OK": 10, "Unavailable": 2, "Canceled": 5}}"#,
        )
        .unwrap();
        assert_eq!(figures.rps, 1234.5);
        assert_eq!(
            (figures.p50_ms, figures.p99_ms, figures.errors),
            (1.5, 4.0, 2)
        );
    }
}
