//! `malha chaos --soak 10m`: the steady load for a long time, sampled in
//! windows. Memory must stay flat (every process's RSS within 10 % of its
//! RSS after warm-up), nothing may fail, and latency must stay steady (no
//! window's p99 above three times the median window's).

use std::time::{Duration, Instant};

use super::load::Load;
use super::split::Fleet;

/// The share of the run that counts as warm-up (caches, pools, JIT-free but
/// allocator arenas still growing).
const WARM_UP_SHARE: f64 = 0.25;
/// RSS growth allowed after warm-up.
const RSS_GROWTH: f64 = 0.10;
/// A window's p99 may not exceed this many times the median window's p99.
const P99_SPREAD: f64 = 3.0;

/// `60s`, `10m`, `1h` or plain seconds.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |at| text.split_at(at));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration such as 60s or 10m"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?}: the unit must be s, m or h")),
    };
    if seconds == 0 {
        return Err("the soak must last at least 1 s".into());
    }
    Ok(Duration::from_secs(seconds))
}

/// What the soak found.
pub(super) struct Report {
    pub(super) text: String,
    pub(super) violations: Vec<String>,
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn p99_ms(mut latencies: Vec<u32>) -> Option<f64> {
    if latencies.is_empty() {
        return None;
    }
    latencies.sort_unstable();
    let at = ((latencies.len() as f64) * 0.99).ceil() as usize;
    Some(f64::from(latencies[at.clamp(1, latencies.len()) - 1]) / 1000.0)
}

/// Runs the soak for `duration`, in about ten windows.
pub(super) async fn run(fleet: &Fleet, load: &Load, duration: Duration) -> Report {
    let window = (duration / 10).max(Duration::from_secs(5));
    let warm_up = duration.mul_f64(WARM_UP_SHARE);
    let started = Instant::now();
    let before = load.counters.snapshot();
    load.counters.take_latencies();
    let mut lines = vec![format!(
        "\n== Soak ({} s, windows of {} s, warm-up {} s)",
        duration.as_secs(),
        window.as_secs(),
        warm_up.as_secs()
    )];
    let mut baseline: Vec<Option<u64>> = vec![None; fleet.processes.len()];
    let mut last: Vec<Option<u64>> = vec![None; fleet.processes.len()];
    let mut p99s = Vec::new();
    let mut calls_before = before.calls;
    while started.elapsed() < duration {
        tokio::time::sleep(
            window
                .min(duration.saturating_sub(started.elapsed()))
                .max(Duration::from_millis(100)),
        )
        .await;
        let now = load.counters.snapshot();
        let p99 = p99_ms(load.counters.take_latencies());
        let rss: Vec<Option<u64>> = fleet.processes.iter().map(|p| rss_kib(p.pid())).collect();
        let warm = started.elapsed() >= warm_up;
        if warm {
            for (base, current) in baseline.iter_mut().zip(&rss) {
                if base.is_none() {
                    *base = *current;
                }
            }
            if let Some(p99) = p99 {
                p99s.push(p99);
            }
        }
        let total_mib: f64 = rss.iter().flatten().map(|k| *k as f64 / 1024.0).sum();
        lines.push(format!(
            "   {:>4} s  {:>6} calls  p99 {:>7}  RSS all processes {total_mib:.1} MiB{}",
            started.elapsed().as_secs(),
            now.calls - calls_before,
            p99.map_or("-".into(), |v| format!("{v:.1} ms")),
            if warm { "" } else { "  (warm-up)" }
        ));
        calls_before = now.calls;
        last = rss;
    }
    let seen = load.counters.snapshot() - before;
    let mut violations = Vec::new();
    let mut check = |ok: bool, what: String| {
        lines.push(format!("   {} {what}", if ok { "ok  " } else { "FAIL" }));
        if !ok {
            violations.push(format!("soak: {what}"));
        }
    };
    check(
        seen.failed == 0,
        format!("{} calls, {} failed", seen.calls, seen.failed),
    );
    let mut grown = Vec::new();
    for ((p, base), end) in fleet.processes.iter().zip(&baseline).zip(&last) {
        if let (Some(base), Some(end)) = (base, end)
            && (*end as f64) > (*base as f64) * (1.0 + RSS_GROWTH)
        {
            grown.push(format!("{} {base} → {end} KiB", p.label()));
        }
    }
    check(
        grown.is_empty(),
        if grown.is_empty() {
            format!(
                "RSS of every process within {:.0} % of its post-warm-up figure",
                RSS_GROWTH * 100.0
            )
        } else {
            format!("RSS grew: {}", grown.join(", "))
        },
    );
    let mut sorted = p99s.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied();
    let worst = sorted.last().copied();
    check(
        match (median, worst) {
            (Some(m), Some(w)) => w <= m * P99_SPREAD,
            _ => false,
        },
        format!(
            "p99 steady: worst window {} vs median {} (limit {P99_SPREAD}×)",
            worst.map_or("-".into(), |v| format!("{v:.1} ms")),
            median.map_or("-".into(), |v| format!("{v:.1} ms"))
        ),
    );
    Report {
        text: lines.join("\n"),
        violations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_percentiles() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("soon").is_err());
        let latencies: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(p99_ms(latencies), Some(99.0));
        assert_eq!(p99_ms(vec![2500]), Some(2.5));
        assert_eq!(p99_ms(Vec::new()), None);
    }
}
