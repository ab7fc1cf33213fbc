//! Rotating the signing key never leaves a fresh token refused: identity
//! publishes a key before signing with it, verifies with the keys it holds,
//! and the other services' unknown-kid refreshes are not spent by a forged
//! kid.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use malha_api::identity::*;
use malha_api::malha::inventory::v1::ListProductsRequest;
use malha_api::malha::inventory::v1::inventory_service_client::InventoryServiceClient;
use tonic::Code;

use crate::helpers::{ADMIN, TestApp, authed, config};

/// A token anyone can make: the right shape, a kid no one published.
fn forged_token() -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"at+jwt","kid":"forged-kid"}"#);
    let claims = URL_SAFE_NO_PAD
        .encode(r#"{"sub":"x","iss":"malha","aud":"malha","exp":4000000000,"nbf":0}"#);
    format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]))
}

async fn login(app: &TestApp) -> String {
    app.identity()
        .await
        .login(LoginRequest {
            username: ADMIN.0.into(),
            password: ADMIN.1.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// The token works on identity and on another service (inventory, which
/// verifies with the keys it fetched from identity).
async fn accepted_everywhere(app: &TestApp, token: &str) {
    app.identity()
        .await
        .get_me(authed(GetMeRequest {}, token))
        .await
        .expect("identity accepts the token");
    InventoryServiceClient::new(app.channel().await)
        .list_products(authed(ListProductsRequest::default(), token))
        .await
        .expect("inventory accepts the token");
}

#[tokio::test]
async fn a_forged_kid_does_not_delay_a_freshly_rotated_key() {
    // Arrange: the tests' identity signs with a rotated key at once (no
    // activation delay), so the verifiers must fetch the new key on demand.
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    accepted_everywhere(&app, &admin).await;
    let forged = forged_token();
    for refused in [
        app.identity()
            .await
            .get_me(authed(GetMeRequest {}, &forged))
            .await
            .unwrap_err(),
        InventoryServiceClient::new(app.channel().await)
            .list_products(authed(ListProductsRequest::default(), &forged))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    }

    // Act: rotate, then log in with the new key right away.
    let rotated = app
        .identity()
        .await
        .rotate_signing_key(authed(RotateSigningKeyRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    let fresh = login(&app).await;

    // Assert: signed by the new key and accepted everywhere at once.
    assert_eq!(kid(&fresh), rotated.kid);
    accepted_everywhere(&app, &fresh).await;
    accepted_everywhere(&app, &admin).await;
    // The forged kid is still refused (and remembered, not fetched again).
    let again = InventoryServiceClient::new(app.channel().await)
        .list_products(authed(ListProductsRequest::default(), &forged))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs() {
    // Arrange: a 2 s activation delay (300 s by default).
    let db = malha_testkit::fresh_database().await.unwrap();
    let nats = malha_testkit::NatsServer::start_ephemeral().await.unwrap();
    let mut config = config(&db.url, &nats.url());
    config.auth.key_activation_delay_seconds = 2;
    let app = TestApp::start(&config, nats).await;
    malha::cli::up::wait_until_serving(&app.url, Duration::from_secs(30))
        .await
        .unwrap();
    let admin = app.admin_token().await;
    let old_kid = kid(&admin);

    // Act
    let rotated = app
        .identity()
        .await
        .rotate_signing_key(authed(RotateSigningKeyRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();

    // Assert: published at once, the old key signing until activate_time.
    let published: Vec<String> = app
        .identity()
        .await
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert!(published.contains(&rotated.kid), "{published:?}");
    assert!(published.contains(&old_kid), "{published:?}");
    assert!(rotated.published_kids.contains(&rotated.kid));
    let activate = rotated.activate_time.expect("activate_time");
    let in_seconds = activate.seconds - chrono::Utc::now().timestamp();
    assert!((0..=3).contains(&in_seconds), "activates in {in_seconds} s");
    let before = login(&app).await;
    assert_eq!(kid(&before), old_kid, "the new key does not sign yet");

    let wait = (activate.seconds + 1 - chrono::Utc::now().timestamp()).max(0);
    tokio::time::sleep(Duration::from_secs(wait.unsigned_abs())).await;
    let after = login(&app).await;
    assert_eq!(
        kid(&after),
        rotated.kid,
        "the new key signs once its time comes"
    );
    accepted_everywhere(&app, &after).await;
    accepted_everywhere(&app, &before).await;
}
