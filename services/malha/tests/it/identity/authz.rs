//! Deny by default: who may call what, decided from the contract's rules
//! and identity's role→permission map.

use tonic::Code;

use crate::helpers::{TestApp, authed};
use malha_api::identity::*;

#[tokio::test]
async fn no_token_is_unauthenticated_and_a_customer_is_denied_admin_rpcs() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let customer = app.customer_token().await;
    let mut identity = app.identity().await;

    let anonymous = identity
        .list_customers(ListCustomersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let denied = identity
        .list_customers(authed(ListCustomersRequest::default(), &customer))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let rotate = identity
        .rotate_signing_key(authed(RotateSigningKeyRequest {}, &customer))
        .await
        .unwrap_err();
    assert_eq!(rotate.code(), Code::PermissionDenied);

    identity
        .list_customers(authed(ListCustomersRequest::default(), &admin))
        .await
        .expect("admin may list customers");
    // `authenticated` RPCs take any valid token.
    identity
        .get_me(authed(GetMeRequest {}, &customer))
        .await
        .expect("a customer may read itself");
}

#[tokio::test]
async fn employees_get_exactly_their_permissions() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let employee = app.employee_token(&admin, "joana").await;
    let mut identity = app.identity().await;
    identity
        .list_customers(authed(ListCustomersRequest::default(), &employee))
        .await
        .expect("employees read customers");
    let write = identity
        .create_person(authed(
            CreatePersonRequest {
                name: "X".into(),
                email: "x@example.com".into(),
                kind: PersonKind::Employee as i32,
                request_id: String::new(),
            },
            &employee,
        ))
        .await
        .unwrap_err();
    assert_eq!(write.code(), Code::PermissionDenied);
}
