//! End to end: the real `malha up` binary on a fresh data directory, driven
//! over the network by a gRPC client, grpcurl, and an independent JWT
//! library; stopped with SIGTERM and started again on the same data.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jwt_compact::{AlgorithmExt, TimeOptions, UntrustedToken, alg::Ed25519};
use tonic::Code;

use crate::helpers::authed;
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::identity::*;

/// The secret the snack bar's payment webhook checks signatures with.
const E2E_WEBHOOK_SECRET: &str = "e2e-webhook-secret";

struct Up {
    child: Child,
    url: String,
    grpc_port: u16,
    nats_port: u16,
    edge_port: u16,
}

impl Up {
    async fn start(data_dir: &Path, pg_port: u16, nats_port: u16) -> Self {
        let grpc_port = malha_testkit::free_port();
        let admin_port = malha_testkit::free_port();
        let edge_port = malha_testkit::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_malha"))
            .arg("up")
            .args(["--grpc-addr", &format!("127.0.0.1:{grpc_port}")])
            .args(["--admin-addr", &format!("127.0.0.1:{admin_port}")])
            .args(["--pg-port", &pg_port.to_string()])
            .args(["--nats-port", &nats_port.to_string()])
            .args(["--edge-addr", &format!("127.0.0.1:{edge_port}")])
            .env("MALHA_DATA_DIR", data_dir)
            .env_remove("DATABASE_URL")
            .env_remove("MALHA_NATS_URL")
            .env("MALHA_PAYMENTS_WEBHOOK_SECRET", E2E_WEBHOOK_SECRET)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(data_dir.join("up.log")).unwrap())
            .spawn()
            .expect("running the malha binary");
        let url = format!("http://127.0.0.1:{grpc_port}");
        let up = Self {
            child,
            url,
            grpc_port,
            nats_port,
            edge_port,
        };
        if let Err(error) =
            malha::cli::up::wait_until_serving(&up.url, Duration::from_secs(90)).await
        {
            let log = std::fs::read_to_string(data_dir.join("up.log")).unwrap_or_default();
            panic!("{error:#}\n--- malha up's log ---\n{log}");
        }
        // Serving comes before the demo data; wait for the admin to exist.
        let started = Instant::now();
        while up.login("admin", "malha-admin").await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "demo admin never appeared"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        up
    }

    async fn client(&self) -> IdentityServiceClient<tonic::transport::Channel> {
        IdentityServiceClient::connect(self.url.clone())
            .await
            .unwrap()
    }

    async fn login(&self, username: &str, password: &str) -> Result<TokenPair, tonic::Status> {
        let mut client = IdentityServiceClient::connect(self.url.clone())
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        Ok(client
            .login(LoginRequest {
                username: username.into(),
                password: password.into(),
            })
            .await?
            .into_inner()
            .tokens
            .unwrap())
    }

    /// SIGTERM, then the exit status must be success within the grace period.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "malha up exited with {status}");
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "malha up did not stop"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn grpcurl() -> String {
    let candidates = [
        Some("grpcurl".to_owned()),
        std::env::var("HOME")
            .ok()
            .map(|h| format!("{h}/go/bin/grpcurl")),
    ];
    for candidate in candidates.into_iter().flatten() {
        if Command::new(&candidate).arg("-version").output().is_ok() {
            return candidate;
        }
    }
    panic!(
        "grpcurl not found on PATH or in ~/go/bin; install it with: \
         go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3 (./dev test does this)"
    );
}

#[tokio::test]
async fn malha_up_serves_identity_end_to_end_and_restarts_on_its_data() {
    let dir = tempfile::tempdir().unwrap();
    // The private PostgreSQL may run as an unprivileged user: let it in.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let pg_port = malha_testkit::free_port();
    let nats_port = malha_testkit::free_port();
    let up = Up::start(dir.path(), pg_port, nats_port).await;

    // grpcurl sees the services through reflection.
    let listed = Command::new(grpcurl())
        .args(["-plaintext", &format!("127.0.0.1:{}", up.grpc_port), "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("malha.identity.v1.IdentityService"),
        "{listed}"
    );
    assert!(listed.contains("grpc.health.v1.Health"), "{listed}");

    // The demo admin logs in; authorization holds over the network.
    let admin = up.login("admin", "malha-admin").await.unwrap();
    let mut client = up.client().await;
    client
        .list_customers(authed(ListCustomersRequest::default(), &admin.access_token))
        .await
        .expect("admin lists customers");
    let customer = client
        .create_anonymous_customer(CreateAnonymousCustomerRequest::default())
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    let denied = client
        .list_customers(authed(ListCustomersRequest::default(), &customer))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let anonymous = client
        .list_customers(ListCustomersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // An independent JWT library verifies the token against GetJwks.
    let jwks = client
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    let untrusted = UntrustedToken::new(&admin.access_token).unwrap();
    let kid = untrusted.header().key_id.clone().unwrap();
    let jwk = jwks.iter().find(|k| k.kid == kid).expect("kid published");
    use base64::Engine;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&jwk.x)
        .unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
    let token = Ed25519
        .validator::<serde_json::Value>(&key)
        .validate(&untrusted)
        .expect("signature verifies with jwt-compact");
    token
        .claims()
        .validate_expiration(&TimeOptions::new(
            chrono::Duration::seconds(60),
            chrono::Utc::now,
        ))
        .expect("not expired");
    assert_eq!(token.claims().custom["username"], "admin");
    assert_eq!(token.claims().custom["roles"][0], "admin");

    // `malha token` prints a token that identity validates.
    let printed = Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(["token", "--url", &up.url])
        .output()
        .unwrap();
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let token = String::from_utf8(printed.stdout).unwrap();
    client
        .validate_token(ValidateTokenRequest {
            access_token: token.trim().to_owned(),
        })
        .await
        .expect("the printed token is valid");

    // `malha keys list` next to this `up` finds its database and key by
    // itself: no DATABASE_URL, no key-encryption key, no "unencrypted" warning.
    let keys = Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(["keys", "list"])
        .env("MALHA_DATA_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("MALHA_KEY_ENCRYPTION_KEY")
        .output()
        .unwrap();
    let keys_stderr = String::from_utf8_lossy(&keys.stderr);
    assert!(keys.status.success(), "{keys_stderr}");
    assert!(!keys_stderr.contains("unencrypted"), "{keys_stderr}");
    let listed = String::from_utf8(keys.stdout).unwrap();
    assert!(listed.contains(&format!("signing key: {kid}")), "{listed}");
    // Given the database but not the key, it says the key is missing, and
    // not first that the keys are stored unencrypted.
    let database_url = std::fs::read_to_string(dir.path().join("database-url")).unwrap();
    let keyless = Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(["keys", "list"])
        .env("DATABASE_URL", database_url.trim())
        .env_remove("MALHA_KEY_ENCRYPTION_KEY")
        .output()
        .unwrap();
    let keyless_stderr = String::from_utf8_lossy(&keyless.stderr);
    assert!(!keyless.status.success());
    assert!(
        keyless_stderr.contains("set MALHA_KEY_ENCRYPTION_KEY")
            && !keyless_stderr.contains("unencrypted"),
        "{keyless_stderr}"
    );

    // Its log went to a file: plain text, no colour codes.
    let log = std::fs::read_to_string(dir.path().join("up.log")).unwrap();
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI escapes in a log file");

    // The JSON edge serves the same API over HTTP, JWKS included.
    let jwks: serde_json::Value = reqwest::get(format!(
        "http://127.0.0.1:{}/.well-known/jwks.json",
        up.edge_port
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str());

    icarus_flow(&up, &admin.access_token).await;
    crate::flows::snackbar::snack_bar_flow(&up.url, &admin.access_token, E2E_WEBHOOK_SECRET).await;
    asky_flow(&up).await;

    up.stop();

    // A second `malha up` reuses its data: same admin, same key.
    let again = Up::start(dir.path(), pg_port, nats_port).await;
    let relogin = again.login("admin", "malha-admin").await.unwrap();
    let header = UntrustedToken::new(&relogin.access_token).unwrap();
    assert_eq!(header.header().key_id.as_deref(), Some(kid.as_str()));
    again.stop();
}

/// Asky through the real binary, as its demo staff: the nurse `bia` asks
/// for a medicine kept in the first stocked cabinet of her ward, the
/// pharmacist `caio` watches, accepts, starts and completes it, and that
/// cabinet's pocket drops once.
async fn asky_flow(up: &Up) {
    use malha_api::malha::pharmacy::v1::pharmacy_service_client::PharmacyServiceClient;
    use malha_api::malha::pharmacy::v1::{ItemKind, ListDispensersRequest};

    let nurse = up.login("bia", "malha-nurse").await.unwrap().access_token;
    let pharmacist = up
        .login("caio", "malha-pharmacist")
        .await
        .unwrap()
        .access_token;
    let ward = malha::cli::seed::DEMO_WARDS[0];
    // The demo hospital is loaded after the admin exists: wait for it.
    let started = Instant::now();
    let (cabinet, pocket) = loop {
        let cabinets = PharmacyServiceClient::connect(up.url.clone())
            .await
            .unwrap()
            .list_dispensers(authed(
                ListDispensersRequest {
                    ward: ward.into(),
                    ..Default::default()
                },
                &pharmacist,
            ))
            .await
            .unwrap()
            .into_inner()
            .dispensers;
        let found = cabinets.into_iter().find_map(|d| {
            d.pockets
                .iter()
                .find(|p| {
                    p.quantity >= 2
                        && p.item
                            .as_ref()
                            .is_some_and(|i| i.kind == ItemKind::Medicine as i32 && !i.controlled)
                })
                .cloned()
                .map(|p| (d.clone(), p))
        });
        if let Some(found) = found {
            break found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the demo hospital stocks a medicine in the ward"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let stocked = crate::flows::asky::Stocked {
        dispenser_id: cabinet.id.clone(),
        pocket: pocket.pocket.clone(),
        medicine_id: pocket.item.as_ref().unwrap().id.clone(),
        ward: ward.into(),
    };
    crate::flows::asky::delivery_flow(&up.url, &nurse, &pharmacist, &stocked, 2).await;
}

/// Products and a project through the real binary: inventory drops by
/// exactly the materials used, and `malha events tail` shows the event.
async fn icarus_flow(up: &Up, token: &str) {
    use malha_api::malha::inventory::v1::inventory_service_client::InventoryServiceClient;
    use malha_api::malha::inventory::v1::*;
    use malha_api::malha::projects::v1::projects_service_client::ProjectsServiceClient;
    use malha_api::malha::projects::v1::*;

    let mut tail = Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(["events", "tail", "projects.>"])
        .args(["--nats-url", &format!("nats://127.0.0.1:{}", up.nats_port)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running malha events tail");
    // It says "tailing ..." on stderr once subscribed.
    let stderr = tail.stderr.take().unwrap();
    let subscribed = std::thread::spawn(move || {
        std::io::BufRead::lines(std::io::BufReader::new(stderr))
            .map_while(Result::ok)
            .find(|line| line.starts_with("tailing"))
            .unwrap_or_default()
    })
    .join()
    .unwrap();
    assert!(
        subscribed.starts_with("tailing"),
        "events tail did not start: {subscribed}"
    );
    let stdout = tail.stdout.take().unwrap();
    let (printed_tx, printed) = std::sync::mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str(&line)
                && printed_tx.send(event).is_err()
            {
                return;
            }
        }
    });

    let mut inventory = InventoryServiceClient::connect(up.url.clone())
        .await
        .unwrap();
    let mut products = Vec::new();
    for (sku, stock) in [("E2E-MDF", 20), ("E2E-PINE", 8)] {
        let product = inventory
            .create_product(authed(
                CreateProductRequest {
                    product: Some(Product {
                        sku: sku.into(),
                        name: sku.into(),
                        unit: "sheet".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        inventory
            .record_movement(authed(
                RecordMovementRequest {
                    product_id: product.id.clone(),
                    kind: MovementKind::Receipt as i32,
                    quantity: stock,
                    reason: "delivery".into(),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .unwrap();
        products.push(product);
    }
    let project = ProjectsServiceClient::connect(up.url.clone())
        .await
        .unwrap()
        .create_project(authed(
            CreateProjectRequest {
                project: Some(Project {
                    name: "Estante".into(),
                    materials: vec![
                        Material {
                            product_id: products[0].id.clone(),
                            product_name: "E2E-MDF".into(),
                            quantity: 6,
                        },
                        Material {
                            product_id: products[1].id.clone(),
                            product_name: "E2E-PINE".into(),
                            quantity: 3,
                        },
                    ],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .project
        .unwrap();

    for (product, expected) in products.iter().zip([14, 5]) {
        let started = Instant::now();
        loop {
            let on_hand = inventory
                .get_product(authed(
                    GetProductRequest {
                        product_id: product.id.clone(),
                    },
                    token,
                ))
                .await
                .unwrap()
                .into_inner()
                .product
                .unwrap()
                .quantity_on_hand;
            if on_hand == expected {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{} stuck at {on_hand}",
                product.sku
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let deadline = Instant::now() + Duration::from_secs(20);
    let event = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match printed.recv_timeout(left) {
            Ok(event) if event["type"] == "malha.projects.v1.ProjectCreated" => break event,
            Ok(_) => {}
            Err(_) => panic!("events tail printed no ProjectCreated within 20 s"),
        }
    };
    let _ = tail.kill();
    let _ = tail.wait();
    assert_eq!(event["payload"]["projectId"], project.id);
    assert_eq!(event["payload"]["materials"][0]["quantity"], "6");
}
