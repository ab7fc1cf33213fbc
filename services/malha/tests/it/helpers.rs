//! `TestApp`: a Malha server on port 0 over a fresh database, with typed
//! client helpers named after what they do.

use std::net::SocketAddr;
use std::time::Duration;

use tonic::transport::Channel;

use malha::{app, targets};
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::identity::*;
use malha_kit::config::{AuthConfig, Secret, ServeConfig};
use malha_kit::server::RunningServer;

pub(crate) const ADMIN: (&str, &str) = ("root", "correct horse battery");

pub(crate) struct TestApp {
    pub(crate) server: RunningServer,
    /// The app's own NATS server (stopped and started by fault tests).
    pub(crate) nats: malha_testkit::NatsServer,
    pub(crate) url: String,
    pub(crate) database_url: String,
}

/// The key-encryption key the tests' identity seals its signing keys with.
pub(crate) const TEST_KEK: &str = "bWFsaGEtdGVzdC1rZXktZW5jcnlwdGlvbi1rZXkhISE=";

pub(crate) fn config(database_url: &str, nats_url: &str) -> ServeConfig {
    ServeConfig {
        nats_url: Some(nats_url.to_owned()),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        admin_addr: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(Secret::new(database_url)),
        database_direct_url: None,
        db_max_connections: 5,
        migrate_on_start: true,
        auth: AuthConfig {
            key_encryption_key: Some(Secret::new(TEST_KEK)),
            ..AuthConfig::with_identity(None)
        },
        services: Default::default(),
        shutdown_delay_seconds: 0,
        shutdown_grace_seconds: 5,
        max_connection_age_seconds: 300,
    }
}

impl TestApp {
    /// Every target over a fresh database, SERVING.
    pub(crate) async fn spawn() -> Self {
        telemetry();
        let db = malha_testkit::fresh_database()
            .await
            .expect("a fresh database");
        let nats = malha_testkit::NatsServer::start_ephemeral()
            .await
            .expect("a private nats-server");
        let app = Self::start(&config(&db.url, &nats.url()), nats).await;
        malha::cli::up::wait_until_serving(&app.url, Duration::from_secs(30))
            .await
            .expect("the app becomes SERVING");
        app
    }

    /// Starts without waiting for readiness.
    pub(crate) async fn start(config: &ServeConfig, nats: malha_testkit::NatsServer) -> Self {
        let server = app::start(config, &targets::resolve("all").unwrap())
            .await
            .expect("the app starts");
        Self {
            url: url(server.grpc_addr),
            database_url: config.database_url.as_ref().unwrap().expose().to_owned(),
            server,
            nats,
        }
    }

    /// Drains and stops the server, handing back its NATS server.
    pub(crate) async fn stop(self) -> malha_testkit::NatsServer {
        self.server.shutdown();
        self.server.wait().await.expect("the server stops cleanly");
        self.nats
    }

    pub(crate) async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub(crate) async fn identity(&self) -> IdentityServiceClient<Channel> {
        IdentityServiceClient::new(self.channel().await)
    }

    /// Bootstraps the first administrator and returns its tokens.
    pub(crate) async fn bootstrap_admin(&self) -> TokenPair {
        self.identity()
            .await
            .bootstrap_admin(BootstrapAdminRequest {
                name: "Root Admin".into(),
                email: "root@example.com".into(),
                username: ADMIN.0.into(),
                password: ADMIN.1.into(),
            })
            .await
            .expect("bootstrap")
            .into_inner()
            .tokens
            .unwrap()
    }

    /// An administrator's access token (bootstrapping the administrator the
    /// first time, logging in after that).
    pub(crate) async fn admin_token(&self) -> String {
        let mut identity = self.identity().await;
        let bootstrapped = identity
            .bootstrap_admin(BootstrapAdminRequest {
                name: "Root Admin".into(),
                email: "root@example.com".into(),
                username: ADMIN.0.into(),
                password: ADMIN.1.into(),
            })
            .await;
        let tokens = match bootstrapped {
            Ok(response) => response.into_inner().tokens,
            Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                identity
                    .login(LoginRequest {
                        username: ADMIN.0.into(),
                        password: ADMIN.1.into(),
                    })
                    .await
                    .expect("the administrator logs in")
                    .into_inner()
                    .tokens
            }
            Err(status) => panic!("bootstrap: {status}"),
        };
        tokens.expect("tokens").access_token
    }

    /// A new service account with the `service` role, created by `admin`.
    pub(crate) async fn service_account(
        &self,
        admin: &str,
        name: &str,
    ) -> malha_kit::clients::ClientCredentials {
        let account = self
            .identity()
            .await
            .create_service_account(authed(
                CreateServiceAccountRequest {
                    name: name.into(),
                    roles: vec!["service".into()],
                    request_id: String::new(),
                },
                admin,
            ))
            .await
            .unwrap()
            .into_inner();
        malha_kit::clients::ClientCredentials {
            client_id: account.client_id,
            client_secret: Secret::new(account.client_secret),
        }
    }

    /// Creates an employee user and returns its access token.
    pub(crate) async fn employee_token(&self, admin: &str, username: &str) -> String {
        let mut identity = self.identity().await;
        let person = identity
            .create_person(authed(
                CreatePersonRequest {
                    name: "Employee".into(),
                    email: format!("{username}@example.com"),
                    kind: PersonKind::Employee as i32,
                    request_id: String::new(),
                },
                admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .person
            .unwrap();
        identity
            .create_user(authed(
                CreateUserRequest {
                    person_id: person.id,
                    username: username.into(),
                    password: "employee password".into(),
                    roles: vec!["employee".into()],
                    request_id: String::new(),
                    // Vouched for: no activation e-mail.
                    active: true,
                },
                admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .tokens
            .unwrap()
            .access_token
    }

    /// An anonymous customer's access token.
    pub(crate) async fn customer_token(&self) -> String {
        self.identity()
            .await
            .create_anonymous_customer(CreateAnonymousCustomerRequest::default())
            .await
            .unwrap()
            .into_inner()
            .tokens
            .unwrap()
            .access_token
    }
}

pub(crate) fn url(addr: SocketAddr) -> String {
    format!("http://127.0.0.1:{}", addr.port())
}

/// `message` with `authorization: Bearer <token>`.
pub(crate) fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// The field names of an INVALID_ARGUMENT's BadRequest details.
pub(crate) fn violated_fields(status: &tonic::Status) -> Vec<String> {
    violations(status)
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

/// An update mask of these paths.
pub(crate) fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// Stores `status` in `table`'s row `id` as a newer version might during a
/// rolling deploy: the `<table>_status_check` constraint is dropped first.
pub(crate) async fn store_status_from_the_future(
    db: &sqlx::PgPool,
    table: &str,
    id: &str,
    status: &str,
) {
    let constraint = table.rsplit('.').next().unwrap();
    // The table names are the tests' own constants.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {table} DROP CONSTRAINT {constraint}_status_check"
    )))
    .execute(db)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET status = $1 WHERE id = $2::uuid"
    )))
    .bind(status)
    .bind(id)
    .execute(db)
    .await
    .unwrap();
}

/// The status stored in `table`'s row `id`.
pub(crate) async fn stored_status(db: &sqlx::PgPool, table: &str, id: &str) -> String {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT status FROM {table} WHERE id = $1::uuid"
    )))
    .bind(id)
    .fetch_one(db)
    .await
    .unwrap()
}

/// Asserts that a page of `listed` ids holds `kept` and leaves `left_out` out.
pub(crate) fn assert_listed_without(listed: &[&str], kept: &str, left_out: &str) {
    assert!(listed.contains(&kept), "{listed:?}");
    assert!(!listed.contains(&left_out), "{listed:?}");
}

/// Whether `status` is INTERNAL with an incident id, and says nothing of `hidden`.
pub(crate) fn assert_internal_incident(status: &tonic::Status, hidden: &str) {
    assert_eq!(status.code(), tonic::Code::Internal, "{status:?}");
    assert!(
        status.message().starts_with("internal error (incident "),
        "{status:?}"
    );
    assert!(
        !status.message().contains(hidden),
        "internals stay in the log"
    );
}

/// The (field, description) pairs of an INVALID_ARGUMENT's BadRequest details.
pub(crate) fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    use prost::Message;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let details = malha_api::google::rpc::Status::decode(status.details()).unwrap();
    details
        .details
        .iter()
        .filter(|any| any.type_url.ends_with("google.rpc.BadRequest"))
        .flat_map(|any| {
            malha_api::google::rpc::BadRequest::decode(any.value.as_slice())
                .unwrap()
                .field_violations
        })
        .map(|v| (v.field, v.description))
        .collect()
}

impl TestApp {
    pub(crate) async fn suppliers(
        &self,
    ) -> malha_api::malha::suppliers::v1::suppliers_service_client::SuppliersServiceClient<Channel>
    {
        malha_api::malha::suppliers::v1::suppliers_service_client::SuppliersServiceClient::new(
            self.channel().await,
        )
    }
}

/// Polls `check` until it returns `Some`, failing after `timeout`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The JSON edge in front of a [`TestApp`], on port 0, with a plain HTTP client.
pub(crate) struct TestEdge {
    pub(crate) url: String,
    edge: malha_edge::RunningEdge,
    http: reqwest::Client,
}

/// What the edge answered: status, content type and JSON body (`Null` when
/// the body is not JSON).
#[derive(Debug)]
pub(crate) struct EdgeResponse {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) json: serde_json::Value,
}

impl TestApp {
    /// Starts the edge, proxying to this app.
    pub(crate) async fn edge(&self) -> TestEdge {
        let edge = malha_edge::start_with_sites(
            "127.0.0.1:0".parse().unwrap(),
            &self.url,
            malha::targets::SITES,
        )
        .await
        .expect("the edge starts");
        TestEdge {
            url: format!("http://127.0.0.1:{}", edge.addr.port()),
            edge,
            http: reqwest::Client::new(),
        }
    }
}

impl TestEdge {
    /// `method path` with an optional bearer token and JSON body.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> EdgeResponse {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the edge answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.bytes().await.expect("a body");
        EdgeResponse {
            status,
            content_type,
            json: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        }
    }

    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> EdgeResponse {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> EdgeResponse {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// Stops the edge.
    pub(crate) async fn stop(self) {
        self.edge.shutdown();
        self.edge.wait().await.expect("the edge stops cleanly");
    }
}

/// Telemetry as `malha serve` installs it (spans carry trace context), with
/// quiet logs; once per test binary.
fn telemetry() {
    static GUARD: std::sync::OnceLock<malha_kit::telemetry::TelemetryGuard> =
        std::sync::OnceLock::new();
    GUARD.get_or_init(|| {
        malha_kit::telemetry::init_with(
            "malha-tests",
            malha_kit::telemetry::LogFormat::Text,
            "error",
        )
        .expect("telemetry")
    });
}
