//! `malha bench`: measures, in one run and on this machine, a trivial RPC on a
//! bare tonic server, the same RPC through Malha's full stack (auth with a
//! bearer token, tracing, metrics), and `ValidateToken`; prints req/s, p50
//! and p99 of each and the ratios between them. Performance goals live here,
//! never in timed tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::{app, targets};
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::identity::{BootstrapAdminRequest, ValidateTokenRequest};
use malha_kit::config::{AuthConfig, Secret, ServeConfig};

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Seconds of load per scenario.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent in-flight calls.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// HTTP/2 connections the calls are spread over.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
}

/// Throughput and latency of one scenario.
#[derive(Debug, Clone, Copy)]
struct Figures {
    /// Completed calls per second.
    rps: f64,
    /// Median latency, in microseconds.
    p50_us: u64,
    /// 99th percentile latency, in microseconds.
    p99_us: u64,
    /// Calls that failed.
    errors: u64,
}

pub(super) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let pg = malha_testkit::PgCluster::start_ephemeral().await?;
    pg.create_database("bench").await?;
    let config = ServeConfig {
        grpc_addr: "127.0.0.1:0".parse()?,
        admin_addr: "127.0.0.1:0".parse()?,
        database_url: Some(Secret::new(pg.url("bench"))),
        db_max_connections: 16,
        migrate_on_start: true,
        auth: AuthConfig::with_identity(None),
        shutdown_delay_seconds: 0,
        shutdown_grace_seconds: 5,
        max_connection_age_seconds: 3600,
    };
    let server = app::start(&config, &targets::resolve("all")?).await?;
    let full = format!("http://127.0.0.1:{}", server.grpc_addr.port());
    super::up::wait_until_serving(&full, Duration::from_secs(30)).await?;
    let bare = bare_server().await?;

    let token = IdentityServiceClient::connect(full.clone())
        .await?
        .bootstrap_admin(BootstrapAdminRequest {
            name: "Bench".into(),
            email: "bench@malha.local".into(),
            username: "bench".into(),
            password: "bench password".into(),
        })
        .await?
        .into_inner()
        .tokens
        .map(|t| t.access_token)
        .unwrap_or_default();
    let bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii> =
        format!("Bearer {token}").parse()?;

    println!(
        "malha bench: {}s per scenario, {} in flight over {} connections, {} cores",
        args.seconds,
        args.concurrency,
        args.connections,
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    let duration = Duration::from_secs(args.seconds);

    let bare_channels = channels(&bare, args.connections).await?;
    let baseline = load(
        &bare_channels,
        args.concurrency,
        duration,
        |ch| async move {
            HealthClient::new(ch)
                .check(HealthCheckRequest::default())
                .await
                .map(|_| ())
        },
    )
    .await;
    report("health check, bare tonic (reference)", &baseline, None);

    let full_channels = channels(&full, args.connections).await?;
    let stacked = {
        let bearer = bearer.clone();
        load(&full_channels, args.concurrency, duration, move |ch| {
            let mut request = tonic::Request::new(HealthCheckRequest::default());
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
            async move { HealthClient::new(ch).check(request).await.map(|_| ()) }
        })
        .await
    };
    report(
        "health check, auth + telemetry stack",
        &stacked,
        Some(&baseline),
    );

    let token: Arc<str> = token.into();
    let validate = load(&full_channels, args.concurrency, duration, move |ch| {
        let access_token = token.to_string();
        async move {
            IdentityServiceClient::new(ch)
                .validate_token(ValidateTokenRequest { access_token })
                .await
                .map(|_| ())
        }
    })
    .await;
    report("ValidateToken", &validate, Some(&baseline));

    server.shutdown();
    server.wait().await?;
    pg.stop().await;
    Ok(())
}

/// A tonic server with nothing but the health service: the reference.
async fn bare_server() -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (_reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(async move {
        // The reporter must outlive the server or Check answers NOT_FOUND.
        let _keep = _reporter;
        let _ = tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    Ok(format!("http://{addr}"))
}

async fn channels(url: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        out.push(
            Endpoint::from_shared(url.to_owned())?
                .tcp_nodelay(true)
                .connect()
                .await?,
        );
    }
    Ok(out)
}

/// Runs `call` from `concurrency` tasks for `duration` (after a short warm-up).
async fn load<F, Fut>(
    channels: &[Channel],
    concurrency: usize,
    duration: Duration,
    call: F,
) -> Figures
where
    F: Fn(Channel) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send,
{
    let call = Arc::new(call);
    let warmup = Instant::now() + Duration::from_millis(500);
    let end = warmup + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for i in 0..concurrency.max(1) {
        let channel = channels[i % channels.len()].clone();
        let call = Arc::clone(&call);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(64 * 1024);
            let mut errors = 0u64;
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let ok = call(channel.clone()).await.is_ok();
                if started >= warmup {
                    if ok {
                        latencies
                            .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((latencies, e)) = task.await {
            all.extend(latencies);
            errors += e;
        }
    }
    all.sort_unstable();
    let pick = |q: f64| -> u64 {
        if all.is_empty() {
            return 0;
        }
        let index = ((all.len() as f64 - 1.0) * q).round() as usize;
        all[index.min(all.len() - 1)]
    };
    Figures {
        rps: all.len() as f64 / duration.as_secs_f64(),
        p50_us: pick(0.50),
        p99_us: pick(0.99),
        errors,
    }
}

fn report(name: &str, figures: &Figures, reference: Option<&Figures>) {
    print!(
        "{name:<40} {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs  errors {}",
        figures.rps, figures.p50_us, figures.p99_us, figures.errors
    );
    if let Some(r) = reference {
        print!(
            "   ratio vs reference: {:.2}× req/s, {:.2}× p99",
            figures.rps / r.rps.max(1.0),
            figures.p99_us as f64 / (r.p99_us.max(1)) as f64
        );
    }
    println!();
}
