//! Every identity RPC through a real server and client.

mod activation;
mod authz;
mod idempotency;
mod security;

use tonic::Code;

use crate::helpers::{ADMIN, TEST_KEK, TestApp, authed, violated_fields};
use malha_api::identity::*;

#[tokio::test]
async fn bootstrap_creates_the_first_admin_only_once() {
    let app = TestApp::spawn().await;
    let tokens = app.bootstrap_admin().await;
    assert!(!tokens.access_token.is_empty() && !tokens.refresh_token.is_empty());
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 3600);

    let again = app
        .identity()
        .await
        .bootstrap_admin(BootstrapAdminRequest {
            name: "Mallory".into(),
            email: "m@example.com".into(),
            username: "mallory".into(),
            password: "another password".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn login_issues_tokens_and_never_tells_which_part_was_wrong() {
    let app = TestApp::spawn().await;
    app.bootstrap_admin().await;
    let mut identity = app.identity().await;
    let ok = identity
        .login(LoginRequest {
            username: ADMIN.0.into(),
            password: ADMIN.1.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.user.unwrap().roles, ["admin"]);

    let wrong_password = identity
        .login(LoginRequest {
            username: ADMIN.0.into(),
            password: "not the password".into(),
        })
        .await
        .unwrap_err();
    let unknown_user = identity
        .login(LoginRequest {
            username: "nobody".into(),
            password: "not the password".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong_password.code(), Code::Unauthenticated);
    assert_eq!(unknown_user.code(), Code::Unauthenticated);
    assert_eq!(wrong_password.message(), unknown_user.message());
}

#[tokio::test]
async fn repeated_failures_lock_a_username_whether_or_not_it_exists() {
    let app = TestApp::spawn().await;
    app.bootstrap_admin().await;
    let mut identity = app.identity().await;
    for username in [ADMIN.0, "ghost"] {
        for _ in 0..5 {
            let failed = identity
                .login(LoginRequest {
                    username: username.into(),
                    password: "wrong password".into(),
                })
                .await
                .unwrap_err();
            assert_eq!(failed.code(), Code::Unauthenticated);
        }
        let locked = identity
            .login(LoginRequest {
                username: username.into(),
                password: ADMIN.1.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(locked.code(), Code::ResourceExhausted, "{username}");
    }
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let first = app.bootstrap_admin().await;
    let mut identity = app.identity().await;
    let second = identity
        .refresh_token(RefreshTokenRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert!(!second.access_token.is_empty());

    // The spent token comes back: theft. Both it and its successor die.
    let reuse = identity
        .refresh_token(RefreshTokenRequest {
            refresh_token: first.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(reuse.code(), Code::Unauthenticated);
    let successor = identity
        .refresh_token(RefreshTokenRequest {
            refresh_token: second.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(successor.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let tokens = app.bootstrap_admin().await;
    let mut identity = app.identity().await;
    identity
        .logout(LogoutRequest {
            refresh_token: tokens.refresh_token.clone(),
        })
        .await
        .unwrap();
    let refused = identity
        .refresh_token(RefreshTokenRequest {
            refresh_token: tokens.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let empty = identity.logout(LogoutRequest::default()).await.unwrap_err();
    assert_eq!(violated_fields(&empty), ["refresh_token"]);
}

#[tokio::test]
async fn validate_token_and_get_me_return_the_claims() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let mut identity = app.identity().await;
    let claims = identity
        .validate_token(ValidateTokenRequest {
            access_token: token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .claims
        .unwrap();
    assert_eq!(claims.username, ADMIN.0);
    assert_eq!(claims.roles, ["admin"]);
    assert_eq!(claims.subject_kind, SubjectKind::User as i32);
    assert_eq!(claims.issuer, "malha");

    let me = identity
        .get_me(authed(GetMeRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .claims
        .unwrap();
    assert_eq!(me.subject, claims.subject);

    let garbage = identity
        .validate_token(ValidateTokenRequest {
            access_token: "not.a.token".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(garbage.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() {
    let app = TestApp::spawn().await;
    let old_token = app.admin_token().await;
    let mut identity = app.identity().await;
    let before = identity
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(before.len(), 1);
    assert_eq!(
        (before[0].kty.as_str(), before[0].crv.as_str()),
        ("OKP", "Ed25519")
    );

    let rotated = identity
        .rotate_signing_key(authed(RotateSigningKeyRequest {}, &old_token))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(rotated.kid, before[0].kid);
    assert_eq!(rotated.published_kids.len(), 2);

    // A token signed by the retired key still works...
    identity
        .get_me(authed(GetMeRequest {}, &old_token))
        .await
        .expect("old token still valid");
    // ...and new tokens carry the new kid and verify too.
    let new_token = identity
        .login(LoginRequest {
            username: ADMIN.0.into(),
            password: ADMIN.1.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    let header = jsonwebtoken::decode_header(&new_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(rotated.kid.as_str()));
    identity
        .list_users(authed(ListUsersRequest::default(), &new_token))
        .await
        .expect("new token valid");
}

#[tokio::test]
async fn users_need_a_person_and_creates_are_idempotent() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut identity = app.identity().await;

    let orphan = identity
        .create_user(authed(
            CreateUserRequest {
                person_id: uuid::Uuid::now_v7().to_string(),
                username: "orphan".into(),
                password: "orphan password".into(),
                roles: vec!["employee".into()],
                request_id: String::new(),
                // Vouched for: no activation e-mail.
                active: true,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(orphan.code(), Code::NotFound);

    let invalid = identity
        .create_person(authed(CreatePersonRequest::default(), &admin))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&invalid), ["name", "email", "kind"]);

    let request_id = uuid::Uuid::now_v7().to_string();
    let create = CreatePersonRequest {
        name: "Bia".into(),
        email: "bia@example.com".into(),
        kind: PersonKind::Employee as i32,
        request_id: request_id.clone(),
    };
    let first = identity
        .create_person(authed(create.clone(), &admin))
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    let retry = identity
        .create_person(authed(create, &admin))
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    assert_eq!(first.id, retry.id);

    let bad_user = identity
        .create_user(authed(
            CreateUserRequest {
                person_id: first.id.clone(),
                username: "X".into(),
                password: "short".into(),
                roles: vec!["root".into()],
                request_id: "nope".into(),
                // Vouched for: no activation e-mail.
                active: true,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&bad_user),
        ["username", "password", "roles", "request_id"]
    );

    let user_request = CreateUserRequest {
        person_id: first.id.clone(),
        username: "bia".into(),
        password: "bia password".into(),
        roles: vec!["employee".into()],
        request_id: uuid::Uuid::now_v7().to_string(),
        // Vouched for: no activation e-mail.
        active: true,
    };
    let user = identity
        .create_user(authed(user_request.clone(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !user.tokens.unwrap().access_token.is_empty(),
        "returns the access key"
    );
    let user = user.user.unwrap();
    let again = identity
        .create_user(authed(user_request, &admin))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(user.id, again.id);

    let fetched = identity
        .get_user(authed(
            GetUserRequest {
                user_id: user.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(fetched.person_id, first.id);
    let person = identity
        .get_person(authed(
            GetPersonRequest {
                person_id: first.id,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    assert_eq!(person.name, "Bia");

    let promoted = identity
        .set_user_roles(authed(
            SetUserRolesRequest {
                user_id: user.id,
                roles: vec!["admin".into(), "employee".into()],
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(promoted.roles, ["admin", "employee"]);

    let page = identity
        .list_users(authed(
            ListUsersRequest {
                page_size: 1,
                page_token: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.users.len(), 1);
    let rest = identity
        .list_users(authed(
            ListUsersRequest {
                page_size: 1,
                page_token: page.next_page_token,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.users.len(), 1);
    assert_ne!(rest.users[0].id, page.users[0].id);
    assert!(rest.next_page_token.is_empty());
}

#[tokio::test]
async fn customers_register_identify_go_anonymous_and_page() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut identity = app.identity().await;

    let invalid = identity
        .register_customer(RegisterCustomerRequest {
            cpf: "111.111.111-11".into(),
            name: "X".into(),
            email: "x@example.com".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&invalid), ["cpf"]);

    let registered = identity
        .register_customer(RegisterCustomerRequest {
            cpf: "529.982.247-25".into(),
            name: "Carla".into(),
            email: "carla@example.com".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let customer = registered.customer.unwrap();
    assert_eq!(customer.cpf, "52998224725");
    assert_eq!(customer.kind, CustomerKind::Identified as i32);

    let duplicate = identity
        .register_customer(RegisterCustomerRequest {
            cpf: "52998224725".into(),
            name: "Other".into(),
            email: "o@example.com".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);

    let identified = identity
        .identify_customer(IdentifyCustomerRequest {
            cpf: "529.982.247-25".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(identified.customer.unwrap().id, customer.id);
    let unknown = identity
        .identify_customer(IdentifyCustomerRequest {
            cpf: "111.444.777-35".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let request_id = uuid::Uuid::now_v7().to_string();
    let anonymous = identity
        .create_anonymous_customer(CreateAnonymousCustomerRequest {
            request_id: request_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let anon = anonymous.customer.unwrap();
    assert_eq!(anon.kind, CustomerKind::Anonymous as i32);
    assert!(anon.cpf.is_empty());
    let same = identity
        .create_anonymous_customer(CreateAnonymousCustomerRequest { request_id })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(same.id, anon.id);

    let fetched = identity
        .get_customer(authed(
            GetCustomerRequest {
                customer_id: anon.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(fetched.id, anon.id);

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = identity
            .list_customers(authed(
                ListCustomersRequest {
                    page_size: 1,
                    page_token: token,
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.customers.into_iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, [customer.id, anon.id]);

    let forged = identity
        .list_customers(authed(
            ListCustomersRequest {
                page_size: 1,
                page_token: "!!".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&forged), ["page_token"]);
}

#[tokio::test]
async fn service_accounts_get_tokens_with_client_credentials() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut identity = app.identity().await;
    let account = identity
        .create_service_account(authed(
            CreateServiceAccountRequest {
                name: "orders".into(),
                roles: vec!["service".into()],
                request_id: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let tokens = identity
        .issue_service_token(IssueServiceTokenRequest {
            client_id: account.client_id.clone(),
            client_secret: account.client_secret.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert!(
        tokens.refresh_token.is_empty(),
        "client credentials are not refreshed"
    );
    let me = identity
        .get_me(authed(GetMeRequest {}, &tokens.access_token))
        .await
        .unwrap()
        .into_inner()
        .claims
        .unwrap();
    assert_eq!(me.subject_kind, SubjectKind::Service as i32);
    assert_eq!(me.roles, ["service"]);

    let wrong = identity
        .issue_service_token(IssueServiceTokenRequest {
            client_id: account.client_id.clone(),
            client_secret: "guess".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);

    // Only an administrator disables it; then the right secret gets nothing.
    let disable = |client_id: &str| DisableServiceAccountRequest {
        client_id: client_id.into(),
    };
    let refused = identity
        .disable_service_account(authed(disable(&account.client_id), &tokens.access_token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let disabled = identity
        .disable_service_account(authed(disable(&account.client_id), &admin))
        .await
        .unwrap()
        .into_inner()
        .service_account
        .unwrap();
    assert_eq!(disabled.client_id, account.client_id);
    let when = disabled.disable_time.expect("disable time");
    let again = identity
        .disable_service_account(authed(disable(&account.client_id), &admin))
        .await
        .unwrap()
        .into_inner()
        .service_account
        .unwrap();
    assert_eq!(
        again.disable_time,
        Some(when),
        "idempotent: the first time stays"
    );
    let after = identity
        .issue_service_token(IssueServiceTokenRequest {
            client_id: account.client_id,
            client_secret: account.client_secret,
        })
        .await
        .unwrap_err();
    assert_eq!(after.code(), Code::Unauthenticated);
    assert_eq!(after.message(), wrong.message(), "no hint that it exists");
    let unknown = identity
        .disable_service_account(authed(disable("sa-nobody"), &admin))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn malha_keys_rotates_in_the_database() {
    let app = TestApp::spawn().await;
    app.admin_token().await;
    let run = |command: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_malha"))
            .args(["keys", command])
            .env("DATABASE_URL", &app.database_url)
            .env("MALHA_KEY_ENCRYPTION_KEY", TEST_KEK)
            .output()
            .unwrap()
    };
    let locked = std::process::Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(["keys", "list"])
        .env("DATABASE_URL", &app.database_url)
        .env_remove("MALHA_KEY_ENCRYPTION_KEY")
        .output()
        .unwrap();
    assert!(!locked.status.success(), "a sealed key needs the KEK");
    let said = String::from_utf8_lossy(&locked.stderr);
    assert!(said.contains("MALHA_KEY_ENCRYPTION_KEY"), "{said}");
    let listed = run("list");
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let before = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(
        before.lines().filter(|l| l.starts_with('{')).count(),
        1,
        "{before}"
    );
    let rotated = run("rotate");
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let after = String::from_utf8(rotated.stdout).unwrap();
    assert_eq!(
        after.lines().filter(|l| l.starts_with('{')).count(),
        2,
        "{after}"
    );
    // Published now, signing after the activation delay (300 s by default).
    assert_eq!(before.lines().next(), after.lines().next(), "{after}");
    assert!(
        after
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("next signing key: "),
        "{after}"
    );
    let immediate = std::process::Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", &app.database_url)
        .env("MALHA_KEY_ENCRYPTION_KEY", TEST_KEK)
        .env("MALHA_KEY_ACTIVATION_DELAY_SECONDS", "0")
        .output()
        .unwrap();
    let now = String::from_utf8(immediate.stdout).unwrap();
    assert_ne!(
        before.lines().next(),
        now.lines().next(),
        "a new signing key"
    );
}

#[tokio::test]
async fn signing_keys_are_sealed_at_rest_and_clear_ones_get_sealed() {
    use malha_identity::keys::KeyRing;
    use malha_identity::wrap::{self, KeyWrap};
    use malha_kit::config::Secret;
    use std::sync::Arc;

    let app = TestApp::spawn().await;
    app.admin_token().await;
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let stored = || async {
        sqlx::query_as::<_, (String, Vec<u8>, bool)>(
            "SELECT kid, private_pkcs8, retired_at IS NULL FROM identity.signing_keys ORDER BY created_at",
        )
        .fetch_all(&db)
        .await
        .unwrap()
    };
    let first = stored().await;
    assert_eq!(first.len(), 1);
    assert!(wrap::is_sealed(&first[0].1), "sealed from the start");
    // PKCS#8 of an Ed25519 key starts with this DER; none of it is visible.
    assert!(
        !first[0]
            .1
            .windows(5)
            .any(|w| w == [0x30, 0x2e, 0x02, 0x01, 0x00])
    );

    // A key written before the KEK was configured sits in the clear...
    let identity = malha::targets::resolve("identity").unwrap()[0];
    let pool = malha::targets::pool(&app.database_url, None, identity, 2).unwrap();
    // (signing at once: a ring without the KEK cannot open the old key)
    KeyRing::new(pool.clone(), None)
        .activate_after(std::time::Duration::ZERO)
        .rotate(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let rotated = stored().await;
    assert!(
        !wrap::is_sealed(&rotated[1].1) && rotated[1].2,
        "{rotated:?}"
    );
    // ...until a ring with the KEK loads it.
    let kek = Arc::new(KeyWrap::from_base64(&Secret::new(TEST_KEK)).unwrap());
    KeyRing::new(pool.clone(), Some(Arc::clone(&kek)))
        .reload()
        .await
        .unwrap();
    let sealed = stored().await;
    assert!(sealed.iter().all(|(_, key, _)| wrap::is_sealed(key)));
    assert_eq!(
        wrap::open(Some(&kek), &rotated[1].0, &sealed[1].1).unwrap(),
        rotated[1].1,
        "the same key, sealed"
    );

    // Another KEK cannot sign with them.
    let other =
        KeyWrap::from_base64(&Secret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")).unwrap();
    assert!(
        KeyRing::new(pool, Some(Arc::new(other)))
            .reload()
            .await
            .is_err(),
        "the wrong KEK opens nothing"
    );
    let still = stored().await;
    assert_eq!(still, sealed, "a failed load changes nothing");
}
