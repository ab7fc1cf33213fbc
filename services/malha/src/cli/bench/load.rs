//! Load from independent tools: `h2load` (Debian's nghttp2-client, raw gRPC
//! frames, light enough to share two cores with the server) and `ghz` (gRPC
//! benchmarking, `go install`; for paced load), parsed from their reports.

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
    /// How far the rounds' throughputs lie apart: (max − min) / median.
    pub(super) spread: f64,
}

impl Figures {
    /// Several rounds of one scenario as one: median throughput and
    /// percentiles, the rounds' spread, every error. The median, not the
    /// best: one lucky round cannot pass a target.
    pub(super) fn combine(runs: &[Figures]) -> Figures {
        let median = |pick: fn(&Figures) -> f64| median(&runs.iter().map(pick).collect::<Vec<_>>());
        Figures {
            rps: median(|r| r.rps),
            p50_ms: median(|r| r.p50_ms),
            p99_ms: median(|r| r.p99_ms),
            errors: runs.iter().map(|r| r.errors).sum(),
            spread: spread(&runs.iter().map(|r| r.rps).collect::<Vec<_>>()),
        }
    }
}

/// The median of `values` (0 if none).
pub(super) fn median(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// (max − min) / median of `values`: 0.08 means the rounds lay within 8 %.
pub(super) fn spread(values: &[f64]) -> f64 {
    let middle = median(values);
    if middle <= 0.0 {
        return 0.0;
    }
    let (low, high) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    (high - low) / middle
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

/// One ghz run of `call` with `data` (JSON) against `addr`. Awaited, not
/// blocked on: the servers under test run on this process's runtime, and a
/// worker parked on a child process would leave them one core short.
pub(super) async fn run(
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
    command.arg(addr);
    let output = output_of(command).await.context("running ghz")?;
    anyhow::ensure!(
        output.status.success() || !output.stdout.is_empty(),
        "ghz failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("ghz JSON report")?;
    let figures = parse(&report);
    if figures.errors > 0 {
        // Only calls the server failed are left (see `parse`).
        eprintln!(
            "{call}: calls that failed under load, by code: {} (details: {})",
            report["statusCodeDistribution"], report["errorDistribution"]
        );
    }
    Ok(figures)
}

fn parse(report: &serde_json::Value) -> Figures {
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
    // When -z is up, ghz closes its connections under the calls still in
    // flight; those end as Unavailable on the client's side alone.
    let cut: u64 = report["errorDistribution"]
        .as_object()
        .map(|errors| {
            errors
                .iter()
                .filter(|(message, _)| message.contains("use of closed network connection"))
                .filter_map(|(_, n)| n.as_u64())
                .sum()
        })
        .unwrap_or(0);
    Figures {
        rps: report["rps"].as_f64().unwrap_or(0.0),
        p50_ms: percentile(50),
        p99_ms: percentile(99),
        errors: errors.saturating_sub(cut),
        spread: 0.0,
    }
}

/// Finds h2load (Debian's nghttp2-client), or explains how to install it.
pub(super) fn h2load() -> anyhow::Result<PathBuf> {
    let path = PathBuf::from("h2load");
    Command::new(&path)
        .arg("--version")
        .output()
        .map(|_| path)
        .context("h2load not found; install it with: sudo apt-get install -y nghttp2-client")
}

/// h2load's load: connections × concurrent streams each, for a duration,
/// as fast as they go or paced at `rps` calls per second in all.
#[derive(Debug, Clone, Copy)]
pub(super) struct H2Shape {
    pub(super) connections: usize,
    pub(super) streams: usize,
    pub(super) seconds: u64,
    pub(super) rps: Option<u32>,
}

/// h2load posting the gRPC-framed `message` (written under `dir`) over
/// `connections` × `streams`, with the bearer `token` if any.
fn h2load_command(
    h2load: &Path,
    dir: &Path,
    message: &[u8],
    token: Option<&str>,
    connections: usize,
    streams: usize,
) -> anyhow::Result<Command> {
    let body = dir.join("body.bin");
    // gRPC framing: no compression, big-endian length, the protobuf bytes.
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
    framed.extend_from_slice(message);
    std::fs::write(&body, framed)?;
    let mut command = Command::new(h2load);
    command
        .args(["-c", &connections.to_string()])
        .args(["-m", &streams.to_string(), "-t", "1"])
        .arg("-d")
        .arg(&body)
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"]);
    if let Some(token) = token {
        command.args(["-H", &format!("authorization: Bearer {token}")]);
    }
    Ok(command)
}

/// Exactly `calls` calls with h2load, as fast as they go (for CPU per call).
pub(super) async fn h2load_calls(
    h2load: &Path,
    addr: &str,
    path: &str,
    token: Option<&str>,
    shape: H2Shape,
    calls: u64,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut command = h2load_command(
        h2load,
        dir.path(),
        &[],
        token,
        shape.connections,
        shape.streams,
    )?;
    command
        .args(["-n", &calls.to_string()])
        .arg(format!("http://{addr}{path}"));
    let output = output_of(command).await.context("running h2load")?;
    anyhow::ensure!(
        output.status.success(),
        "h2load failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    Ok(())
}

/// Runs `command` to its end without holding a runtime worker.
pub(super) async fn output_of(command: Command) -> std::io::Result<std::process::Output> {
    tokio::process::Command::from(command).output().await
}

/// CPU time (user + system) this process has used: during a load run, that
/// of the bench's in-process servers. Steal time on a shared machine is not
/// in it, which makes it the steadiest figure of a run.
pub(super) fn process_cpu() -> anyhow::Result<Duration> {
    cpu_of("self")
}

/// CPU time (user + system) of the process `pid` (`self` for this one).
pub(super) fn cpu_of(pid: &str) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses; utime and
    // stime are the 14th and 15th of the line.
    let (_, rest) = stat
        .rsplit_once(')')
        .context("unexpected /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("short /proc/self/stat")?.parse()?)
    };
    // Linux counts them in USER_HZ, 100 per second.
    Ok(Duration::from_millis((tick(11)? + tick(12)?) * 10))
}

/// CPU time of process `pid` and of every child it has now or has reaped
/// (PostgreSQL's backends are children of its postmaster).
pub(super) fn tree_cpu(pid: u32) -> anyhow::Result<Duration> {
    let ticks = |pid: &str| -> Option<(u32, u64)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (_, rest) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let parent = fields.get(1)?.parse().ok()?;
        // utime, stime, cutime, cstime: fields 14 to 17 of the line.
        let sum = (11..=14)
            .map(|i| {
                fields
                    .get(i)
                    .and_then(|f| f.parse::<u64>().ok())
                    .unwrap_or(0)
            })
            .sum();
        Some((parent, sum))
    };
    let (_, own) = ticks(&pid.to_string()).context("no such process")?;
    let mut total = own;
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let name = entry.file_name();
        let Some(name) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Some((parent, child)) = ticks(name)
            && parent == pid
        {
            total += child;
        }
    }
    Ok(Duration::from_millis(total * 10))
}

/// One h2load run posting the gRPC-framed `message` to `path` on `addr` with
/// raw HTTP/2 frames: `connections` × `streams` in flight for `seconds`.
/// Latencies come from h2load's per-request log. h2load checks only the HTTP
/// status, so callers make one real gRPC call first to prove the RPC answers OK.
pub(super) async fn h2load_run(
    h2load: &Path,
    addr: &str,
    path: &str,
    message: &[u8],
    token: Option<&str>,
    shape: H2Shape,
) -> anyhow::Result<Figures> {
    let H2Shape {
        connections,
        streams,
        seconds,
        rps,
    } = shape;
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("requests.log");
    let mut command = h2load_command(h2load, dir.path(), message, token, connections, streams)?;
    command
        .args(["-D", &seconds.to_string(), "--warm-up-time", "1"])
        .arg(format!("--log-file={}", log.display()));
    if let Some(rps) = rps {
        // h2load paces each connection (client) on its own.
        let per_connection = rps.div_ceil(u32::try_from(connections.max(1))?);
        command.arg(format!("--rps={per_connection}"));
    }
    command.arg(format!("http://{addr}{path}"));
    let output = output_of(command).await.context("running h2load")?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "h2load failed: {text}");
    let rps = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|part| part.trim_end_matches(" req/s").parse::<f64>().ok())
        .context("h2load printed no req/s")?;
    let failed = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .map(|l| {
            ["failed", "errored", "timeout"]
                .iter()
                .filter_map(|word| {
                    l.split(", ")
                        .find(|p| p.ends_with(word))
                        .and_then(|p| p.split_whitespace().next())
                        .and_then(|n| n.parse::<u64>().ok())
                })
                .sum()
        })
        .unwrap_or(0);
    let mut micros: Vec<u64> = std::fs::read_to_string(&log)?
        .lines()
        .filter_map(|l| l.split('\t').nth(2).and_then(|d| d.trim().parse().ok()))
        .collect();
    micros.sort_unstable();
    let pick = |q: f64| -> f64 {
        if micros.is_empty() {
            return 0.0;
        }
        let index = ((micros.len() - 1) as f64 * q).round() as usize;
        micros[index.min(micros.len() - 1)] as f64 / 1000.0
    };
    Ok(Figures {
        rps,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        errors: failed,
        spread: 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::Figures;

    #[test]
    fn rounds_combine_into_median_rate_and_latency_with_their_spread() {
        let run = |rps, p99_ms, errors| Figures {
            rps,
            p50_ms: 1.0,
            p99_ms,
            errors,
            spread: 0.0,
        };
        let combined =
            Figures::combine(&[run(90.0, 3.0, 1), run(120.0, 9.0, 0), run(100.0, 2.0, 2)]);
        assert_eq!(combined.rps, 100.0, "a lucky round does not decide");
        assert_eq!(combined.p99_ms, 3.0);
        assert_eq!(combined.errors, 3);
        assert!((combined.spread - 0.30).abs() < 1e-9, "{}", combined.spread);
        assert_eq!(super::median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(super::spread(&[]), 0.0);
    }

    #[test]
    fn reads_the_ghz_report() {
        let report: serde_json::Value = serde_json::from_str(
            r#"{"rps": 1234.5, "latencyDistribution": [{"percentage": 50, "latency": 1500000},
                 {"percentage": 99, "latency": 4000000}], "statusCodeDistribution": {"OK": 10, "Unavailable": 3, "Canceled": 5},
                 "errorDistribution": {"rpc error: code = Unavailable desc = error reading from server: read tcp 127.0.0.1:1->127.0.0.1:2: use of closed network connection": 1,
                 "rpc error: code = Unavailable desc = connection refused": 2}}"#,
        )
        .unwrap();
        let figures = super::parse(&report);
        assert_eq!(figures.rps, 1234.5);
        assert_eq!(
            (figures.p50_ms, figures.p99_ms, figures.errors),
            (1.5, 4.0, 2)
        );
    }
}
