//! The kit's promises, observed from outside: readiness follows the
//! database, metrics are exposed, outgoing calls carry the service's token.

mod cancellation;
mod notify;
mod pool;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::helpers::{TestApp, config};
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::identity::*;
use malha_kit::clients::{Propagating, ServiceToken, channel};

async fn health(app: &TestApp, service: &str) -> i32 {
    HealthClient::new(app.channel().await)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

pub(crate) async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn starts_without_its_database_and_serves_once_it_appears() {
    let port = malha_testkit::free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let nats = malha_testkit::NatsServer::start_ephemeral().await.unwrap();
    let app = TestApp::start(&config(&url, &nats.url()), nats).await;

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(health(&app, "").await, ServingStatus::NotServing as i32);
    assert_eq!(
        health(&app, "malha.identity.v1.IdentityService").await,
        ServingStatus::NotServing as i32
    );
    let (status, _) = http_get(app.server.admin_addr, "/readyz").await;
    assert_eq!(status, 503);
    let down = app
        .identity()
        .await
        .login(LoginRequest {
            username: "someone".into(),
            password: "some password".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(down.code(), Code::Unavailable, "{down:?}");
    assert!(
        !down.message().contains("postgres"),
        "no internals: {down:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let pg_dir = dir.path().join("pg");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let cluster = malha_testkit::PgCluster::start(&pg_dir, port)
        .await
        .unwrap();

    let started = Instant::now();
    while health(&app, "").await != ServingStatus::Serving as i32 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never became SERVING"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = http_get(app.server.admin_addr, "/readyz").await;
    assert_eq!(status, 200);
    app.bootstrap_admin().await;
    drop(cluster);
}

#[tokio::test]
async fn metrics_count_calls_by_method_and_code() {
    let app = TestApp::spawn().await;
    let _ = app
        .identity()
        .await
        .list_customers(ListCustomersRequest::default())
        .await;
    let (status, body) = http_get(app.server.admin_addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(
            r#"grpc_server_handled_total{grpc_code="Unauthenticated",grpc_method="ListCustomers",grpc_service="malha.identity.v1.IdentityService",grpc_type="unary"} 1"#
        ),
        "{body}"
    );
    assert!(body.contains("grpc_server_handling_seconds_bucket"));
    // Each service's database pool, read at scrape time.
    for line in [
        r#"malha_db_pool_max_connections{service="identity"} 5"#,
        r#"malha_db_pool_acquire_timeouts_total{service="orders"} 0"#,
    ] {
        assert!(body.contains(line), "{line}\n{body}");
    }
    let connections = |state: &str| {
        let series = format!(r#"malha_db_pool_connections{{service="identity",state="{state}"}}"#);
        body.lines()
            .find(|l| l.starts_with(&series))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("no {series}"))
    };
    // Readiness has probed the database, so the pool holds a connection.
    let open = connections("idle") + connections("in_use");
    assert!((1..=5).contains(&open), "{open} connections open");
    let (live, _) = http_get(app.server.admin_addr, "/healthz").await;
    assert_eq!(live, 200);
}

#[tokio::test]
async fn outgoing_calls_carry_the_service_token_and_a_deadline() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let credentials = app.service_account(&admin, "tester").await;
    let token = Arc::new(ServiceToken::new(channel(&app.url).unwrap(), credentials));
    let first = token.token().await.unwrap();
    assert_eq!(
        first,
        token.token().await.unwrap(),
        "cached until close to expiry"
    );

    let propagating = Propagating::new(
        channel(&app.url).unwrap(),
        Some(token),
        Duration::from_secs(2),
    );
    let me = IdentityServiceClient::new(propagating)
        .get_me(GetMeRequest {})
        .await
        .unwrap()
        .into_inner()
        .claims
        .unwrap();
    assert_eq!(me.subject_kind, SubjectKind::Service as i32);
}
