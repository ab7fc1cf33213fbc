//! Target 1, the auth + telemetry tax: a trivial RPC (health Check) through
//! the full stack with a bearer token, against the same RPC on a bare tonic
//! server in the same binary. Both are driven by h2load with raw gRPC frames
//! and sent the same request, token included (the bare server ignores it).
//!
//! Throughput is measured as the reference is (50 connections × 50
//! streams), latency on a single stream (a p99 under 2,500 queued calls
//! measures the queue, not the call). Bare and full runs alternate for
//! `--rounds` rounds, so drift on a shared machine hits both alike.
//! Also ValidateToken, for the record.

use prost::Message;

use super::Bench;
use super::load::{self, Figures, H2Shape};

const CHECK: &str = "/grpc.health.v1.Health/Check";

pub(super) async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let seconds = bench.shape.duration.as_secs().max(2);
    let busy = H2Shape {
        connections: 50,
        streams: 50,
        seconds,
        rps: None,
    };
    let single = H2Shape {
        connections: 1,
        streams: 1,
        seconds,
        rps: None,
    };
    prove_check_answers(bench).await?;

    let (bare, full) = alternate(bench, busy).await?;
    bench.measured(
        "1 auth",
        "health Check, bare tonic, 50×50 (reference)",
        bare,
    );
    let ratio = full.rps / bare.rps.max(1.0);
    bench.judged(
        "1 auth",
        "health Check, auth + telemetry stack: req/s",
        Some(full),
        format!("{:.0} req/s", full.rps),
        format!("{:.0} req/s", bare.rps),
        ratio,
        ">= 0.85".into(),
        ratio >= 0.85,
    );
    bench.reference_spread(bare.spread);

    cpu_per_call(bench, busy).await?;

    let (bare, full) = alternate(bench, single).await?;
    bench.measured("1 auth", "health Check, bare tonic, one stream", bare);
    let ratio = full.p99_ms / bare.p99_ms.max(0.001);
    bench.judged(
        "1 auth",
        "health Check, auth + telemetry stack: p99",
        Some(full),
        format!("{:.3} ms", full.p99_ms),
        format!("{:.3} ms", bare.p99_ms),
        ratio,
        "<= 1.20".into(),
        ratio <= 1.2,
    );
    bench.reference_spread(bare.spread);

    let validate = malha_api::identity::ValidateTokenRequest {
        access_token: bench.token.clone(),
    }
    .encode_to_vec();
    let figures = bench
        .h2load_full(
            "/malha.identity.v1.IdentityService/ValidateToken",
            &validate,
            busy,
        )
        .await?;
    bench.measured("1 auth", "ValidateToken, 50×50", figures);
    Ok(())
}

/// Server CPU time per call, bare and full, over the same number of calls,
/// alternating for `bench.rounds` rounds; the least of each side (the
/// steadiest figure on a shared machine: steal time is not in it).
async fn cpu_per_call(bench: &mut Bench, shape: H2Shape) -> anyhow::Result<()> {
    const CALLS: u64 = 200_000;
    async fn micros(bench: &Bench, addr: &str, shape: H2Shape) -> anyhow::Result<f64> {
        let before = load::process_cpu()?;
        load::h2load_calls(&bench.h2load, addr, CHECK, Some(&bench.token), shape, CALLS).await?;
        Ok((load::process_cpu()? - before).as_secs_f64() * 1e6 / CALLS as f64)
    }
    let (mut bare, mut full) = (f64::MAX, f64::MAX);
    for _ in 0..bench.rounds {
        bare = bare.min(micros(bench, &bench.bare, shape).await?);
        full = full.min(micros(bench, &bench.full, shape).await?);
    }
    bench.compared(
        "1 auth",
        "health Check, server CPU per call",
        format!("{full:.1} µs"),
        format!("{bare:.1} µs"),
        full / bare.max(0.001),
    );
    Ok(())
}

/// h2load only sees HTTP status 200: proves the RPC answers OK with the
/// token before any load.
async fn prove_check_answers(bench: &Bench) -> anyhow::Result<()> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", bench.full))?
        .connect()
        .await?;
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let mut request = tonic::Request::new(tonic_health::pb::HealthCheckRequest::default());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {}", bench.token).parse()?);
    client.check(request).await?;
    Ok(())
}

/// Health Check on the bare server, then on the full one, `bench.rounds`
/// times; the figures of each side combined.
async fn alternate(bench: &Bench, shape: H2Shape) -> anyhow::Result<(Figures, Figures)> {
    let (mut bare, mut full) = (Vec::new(), Vec::new());
    for _ in 0..bench.rounds {
        bare.push(
            load::h2load_run(
                &bench.h2load,
                &bench.bare,
                CHECK,
                &[],
                Some(&bench.token),
                shape,
            )
            .await?,
        );
        full.push(bench.h2load_full(CHECK, &[], shape).await?);
    }
    Ok((Figures::combine(&bare), Figures::combine(&full)))
}
