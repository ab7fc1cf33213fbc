//! Idempotent creates of identity through real gRPC and PostgreSQL: keys
//! scoped to their caller, checked against the request they first came with,
//! replayed without secrets, one resource under concurrency, and expiry.

use tonic::Code;

use crate::helpers::{TestApp, authed, violated_fields};
use malha_api::identity::*;

fn register(cpf: &str, name: &str, request_id: &str) -> RegisterCustomerRequest {
    RegisterCustomerRequest {
        cpf: cpf.into(),
        name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
        request_id: request_id.into(),
    }
}

/// The `sub` claim of an access token (its payload is not checked here: the
/// server verified it when it was issued and will when it is used).
fn subject_of(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

/// Defect 1 of issue 12: the same key for another CPF handed the second
/// caller the first customer's record and tokens.
#[tokio::test]
async fn a_key_reused_for_another_cpf_is_refused_and_reveals_nothing() {
    let app = TestApp::spawn().await;
    let mut identity = app.identity().await;
    let key = uuid::Uuid::now_v7().to_string();

    let ana = identity
        .register_customer(register("529.982.247-25", "Ana", &key))
        .await
        .expect("the first registration")
        .into_inner();
    let ana_id = ana.customer.unwrap().id;

    let bruno = identity
        .register_customer(register("111.444.777-35", "Bruno", &key))
        .await
        .expect_err("another body under the same key");

    assert_eq!(violated_fields(&bruno), ["request_id"]);
    assert!(!format!("{bruno:?}").contains(&ana_id), "{bruno:?}");
    assert!(!format!("{bruno:?}").contains("52998224725"));
    let bruno_exists = identity
        .identify_customer(IdentifyCustomerRequest {
            cpf: "111.444.777-35".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bruno_exists.code(), Code::NotFound, "nothing was created");
}

#[tokio::test]
async fn a_retry_replays_the_customer_with_fresh_tokens() {
    let app = TestApp::spawn().await;
    let mut identity = app.identity().await;
    let request = register("529.982.247-25", "Ana", &uuid::Uuid::now_v7().to_string());

    let first = identity
        .register_customer(request.clone())
        .await
        .unwrap()
        .into_inner();
    let retry = identity
        .register_customer(request)
        .await
        .expect("a retry is no duplicate")
        .into_inner();

    let (first_customer, retry_customer) = (first.customer.unwrap(), retry.customer.unwrap());
    assert_eq!(first_customer, retry_customer);
    let (first_tokens, retry_tokens) = (first.tokens.unwrap(), retry.tokens.unwrap());
    assert_ne!(
        first_tokens.refresh_token, retry_tokens.refresh_token,
        "tokens are issued afresh, never stored"
    );
    assert_eq!(subject_of(&retry_tokens.access_token), retry_customer.id);
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut identity = app.identity().await;
    let request = CreateAnonymousCustomerRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
    };

    let without_token = identity
        .create_anonymous_customer(request.clone())
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let with_token = identity
        .create_anonymous_customer(authed(request, &admin))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();

    assert_ne!(
        without_token.id, with_token.id,
        "another caller, another key"
    );
}

#[tokio::test]
async fn concurrent_identical_creates_make_one_resource_and_no_error() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let request = CreatePersonRequest {
        name: "Clara".into(),
        email: "clara@example.com".into(),
        kind: PersonKind::Employee as i32,
        request_id: uuid::Uuid::now_v7().to_string(),
    };

    let calls = (0..8).map(|_| {
        let (app, admin, request) = (&app, &admin, request.clone());
        async move {
            app.identity()
                .await
                .create_person(authed(request, admin))
                .await
                .map(|r| r.into_inner().person.unwrap().id)
        }
    });
    let answers = futures::future::join_all(calls).await;

    let ids: Vec<String> = answers
        .into_iter()
        .map(|answer| answer.expect("every concurrent retry succeeds"))
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let people: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM identity.people WHERE email = 'clara@example.com'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(people, 1);
}

#[tokio::test]
async fn an_expired_key_can_be_used_again() {
    let app = TestApp::spawn().await;
    let mut identity = app.identity().await;
    let key = uuid::Uuid::now_v7().to_string();
    identity
        .register_customer(register("529.982.247-25", "Ana", &key))
        .await
        .unwrap();
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    // Time travel: the key's 24 hours are over.
    sqlx::query("UPDATE identity.idempotency SET expires_at = now() - interval '1 second'")
        .execute(&db)
        .await
        .unwrap();

    let bruno = identity
        .register_customer(register("111.444.777-35", "Bruno", &key))
        .await
        .expect("an expired key counts as new")
        .into_inner();

    assert_eq!(bruno.customer.unwrap().cpf, "11144477735");
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.idempotency")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(keys, 1, "the expired row was purged");
}

#[tokio::test]
async fn a_service_account_secret_is_shown_once_and_never_stored() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut identity = app.identity().await;
    let request = CreateServiceAccountRequest {
        name: "kiosk".into(),
        roles: vec!["service".into()],
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let created = identity
        .create_service_account(authed(request.clone(), &admin))
        .await
        .unwrap()
        .into_inner();

    let replay = identity
        .create_service_account(authed(request, &admin))
        .await
        .unwrap_err();

    assert_eq!(replay.code(), Code::AlreadyExists);
    assert!(!replay.message().contains(&created.client_secret));
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT response FROM identity.idempotency")
        .fetch_one(&db)
        .await
        .unwrap();
    let secret = created.client_secret.as_bytes();
    assert!(!stored.windows(secret.len()).any(|w| w == secret));
    assert!(!stored.is_empty());
}

/// A connection to the app's database inside identity's schema, as the
/// service's own pool would have it.
async fn identity_connection(app: &TestApp) -> sqlx::PgConnection {
    use sqlx::{ConnectOptions, postgres::PgConnectOptions};
    let options: PgConnectOptions = app.database_url.parse().unwrap();
    options
        .options([("search_path", "identity")])
        .connect()
        .await
        .unwrap()
}

/// The mechanism itself, step by step: a second claim of the same key waits
/// for the first transaction and then replays what it committed.
#[tokio::test]
async fn a_concurrent_claim_waits_for_the_first_and_replays_its_response() {
    use malha_kit::idempotency::{Claim, Key, Owner};
    use sqlx::Connection;
    let app = TestApp::spawn().await;
    let request = CreateAnonymousCustomerRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let key = Key::new(
        &Owner::anonymous(),
        "Probe",
        Some(request.request_id.parse().unwrap()),
        &request,
    );
    let mut first = identity_connection(&app).await;
    let mut second = identity_connection(&app).await;
    let mut first_tx = first.begin().await.unwrap();
    assert_eq!(
        key.claim::<Customer>(&mut first_tx).await.unwrap(),
        Claim::Fresh
    );

    let waiting = tokio::spawn({
        let key = key.clone();
        async move {
            let mut tx = second.begin().await.unwrap();
            key.claim::<Customer>(&mut tx).await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the second claim waits for the first"
    );
    let response = Customer {
        id: "the one customer".into(),
        ..Customer::default()
    };
    key.record(&mut first_tx, &response).await.unwrap();
    first_tx.commit().await.unwrap();

    assert_eq!(waiting.await.unwrap().unwrap(), Claim::Replay(response));
}

#[tokio::test]
async fn a_claim_purges_other_expired_keys() {
    use malha_kit::idempotency::{Claim, Key, Owner};
    use sqlx::Connection;
    let app = TestApp::spawn().await;
    let mut conn = identity_connection(&app).await;
    sqlx::query(
        "INSERT INTO idempotency (caller, rpc, key, request_hash, response, expires_at)
         VALUES ('user:old', 'CreatePerson', gen_random_uuid(), '\\x00', '\\x00', now() - interval '1 hour'),
                ('user:new', 'CreatePerson', gen_random_uuid(), '\\x00', '\\x00', now() + interval '1 hour')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let request = CreateAnonymousCustomerRequest::default();
    let key = Key::new(
        &Owner::anonymous(),
        "Probe",
        Some(uuid::Uuid::now_v7()),
        &request,
    );

    let mut tx = conn.begin().await.unwrap();
    assert_eq!(key.claim::<Customer>(&mut tx).await.unwrap(), Claim::Fresh);
    key.record(&mut tx, &Customer::default()).await.unwrap();
    tx.commit().await.unwrap();

    let callers: Vec<String> = sqlx::query_scalar("SELECT caller FROM idempotency ORDER BY caller")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(callers, ["anonymous", "user:new"]);
}

/// `malha up` seeds every time: once its request ids have expired, the
/// seed must find what exists instead of creating it again.
#[tokio::test]
async fn the_demo_seed_runs_again_after_its_keys_expired() {
    let app = TestApp::spawn().await;
    malha::cli::seed::demo(&app.url).await.unwrap();
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    sqlx::query("UPDATE identity.idempotency SET expires_at = now() - interval '1 second'")
        .execute(&db)
        .await
        .unwrap();

    malha::cli::seed::demo(&app.url)
        .await
        .expect("a second seed a day later");

    for staff in &malha::cli::seed::DEMO_STAFF {
        let people: i64 =
            sqlx::query_scalar("SELECT count(*) FROM identity.people WHERE email = $1")
                .bind(format!("{}@malha.local", staff.username))
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(people, 1, "{}", staff.username);
    }
}

/// Asky's demo nurse and pharmacist log in with their own roles, which is
/// what pharmacy and care map to permissions.
#[tokio::test]
async fn the_demo_staff_log_in_with_their_roles() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    malha::cli::seed::demo(&app.url).await.unwrap();
    let mut identity = app.identity().await;

    for staff in &malha::cli::seed::DEMO_STAFF {
        let token = identity
            .login(LoginRequest {
                username: staff.username.into(),
                password: staff.password.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("{} logs in: {e}", staff.username))
            .into_inner()
            .tokens
            .unwrap()
            .access_token;
        let payload = token.split('.').nth(1).expect("a JWT");
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            claims["roles"],
            serde_json::json!([staff.role]),
            "{}",
            staff.username
        );
    }
    let roles: Vec<&str> = malha::cli::seed::DEMO_STAFF
        .iter()
        .map(|s| s.role)
        .collect();
    assert_eq!(roles, ["employee", "nurse", "pharmacist"]);
}
