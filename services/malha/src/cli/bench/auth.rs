//! Target 1, the auth + telemetry tax: a trivial RPC (health Check) through
//! the full stack with a bearer token, against the same RPC on a bare tonic
//! server in the same binary, both driven by h2load with raw gRPC frames.
//! Also ValidateToken, for the record.

use prost::Message;

use super::Bench;
use super::load;

pub(super) async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let h2load = load::h2load()?;
    // The reference measurement's shape: 50 connections × 50 streams.
    let shape = load::H2Shape {
        connections: 50,
        streams: 50,
        seconds: bench.shape.duration.as_secs().max(2),
    };
    let check = "/grpc.health.v1.Health/Check";
    // h2load only sees HTTP status 200: prove the RPC answers OK with the token first.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", bench.full))?
        .connect()
        .await?;
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let mut request = tonic::Request::new(tonic_health::pb::HealthCheckRequest::default());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {}", bench.token).parse()?);
    client.check(request).await?;

    let bare = load::h2load_run(&h2load, &bench.bare, check, &[], None, shape)?;
    let full = load::h2load_run(&h2load, &bench.full, check, &[], Some(&bench.token), shape)?;
    bench.measured(
        "1 auth",
        "health Check, bare tonic (reference, h2load)",
        bare,
    );
    let rps_ratio = full.rps / bare.rps.max(1.0);
    bench.judged(
        "1 auth",
        "health Check, auth + telemetry stack: req/s",
        Some(full),
        format!("{:.0} req/s", full.rps),
        format!("{:.0} req/s", bare.rps),
        rps_ratio,
        ">= 0.85".into(),
        rps_ratio >= 0.85,
    );
    let p99_ratio = full.p99_ms / bare.p99_ms.max(0.001);
    bench.judged(
        "1 auth",
        "health Check, auth + telemetry stack: p99",
        None,
        format!("{:.2} ms", full.p99_ms),
        format!("{:.2} ms", bare.p99_ms),
        p99_ratio,
        "<= 1.20".into(),
        p99_ratio <= 1.2,
    );
    let validate = malha_api::identity::ValidateTokenRequest {
        access_token: bench.token.clone(),
    }
    .encode_to_vec();
    let figures = load::h2load_run(
        &h2load,
        &bench.full,
        "/malha.identity.v1.IdentityService/ValidateToken",
        &validate,
        None,
        shape,
    )?;
    bench.measured("1 auth", "ValidateToken (h2load)", figures);
    Ok(())
}
