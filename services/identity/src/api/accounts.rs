//! Service accounts and the client-credentials grant.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use super::{convert, sessions};
use crate::Identity;
use crate::domain::roles;
use crate::store;
use crate::tokens::{TokenSubject, hash_refresh};
use malha_api::identity::*;
use malha_kit::auth::SubjectKind;
use malha_kit::idempotency::{Claim, Key, Owner};
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

pub(super) async fn create(
    identity: &Identity,
    owner: &Owner,
    request: CreateServiceAccountRequest,
) -> ServiceResult<CreateServiceAccountResponse> {
    let mut v = Violations::new();
    v.text(&request.name, "name", 100);
    let roles = roles::parse_roles(&request.roles)
        .map_err(|problem| v.add("roles", problem))
        .unwrap_or_default();
    let key = Key::new(
        owner,
        "CreateServiceAccount",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let mut tx = identity.pool.begin().await?;
    // The account (never its secret) is stored; a replay is refused because
    // the secret is shown only once and cannot be recovered from its hash.
    if let Claim::Replay(_) = key.claim::<ServiceAccount>(&mut tx).await? {
        return Err(ServiceError::AlreadyExists(
            "this request_id already created a service account; its secret was shown then".into(),
        ));
    }
    let client_id = format!("sa-{}", random(9));
    let secret = random(32);
    let row = store::accounts::insert(
        &mut *tx,
        request.name.trim(),
        &client_id,
        &hash_refresh(&secret),
        &roles,
    )
    .await?;
    let account = convert::account(row);
    key.record(&mut tx, &account).await?;
    tx.commit().await?;
    Ok(CreateServiceAccountResponse {
        client_id,
        service_account: Some(account),
        client_secret: secret,
    })
}

pub(super) async fn disable(
    identity: &Identity,
    request: DisableServiceAccountRequest,
) -> ServiceResult<DisableServiceAccountResponse> {
    let mut v = Violations::new();
    v.check(!request.client_id.is_empty(), "client_id", "required");
    v.finish()?;
    let row = store::accounts::disable(&identity.pool, &request.client_id)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "service account",
        })?;
    tracing::info!(client_id = %row.client_id, "service account disabled");
    Ok(DisableServiceAccountResponse {
        service_account: Some(convert::account(row)),
    })
}

pub(super) async fn issue_token(
    identity: &Identity,
    request: IssueServiceTokenRequest,
) -> ServiceResult<IssueServiceTokenResponse> {
    let mut v = Violations::new();
    v.check(!request.client_id.is_empty(), "client_id", "required");
    v.check(
        !request.client_secret.is_empty(),
        "client_secret",
        "required",
    );
    v.finish()?;
    let refused = || ServiceError::Unauthenticated("invalid client credentials".into());
    let account = store::accounts::by_client_id(&identity.pool, &request.client_id)
        .await?
        .ok_or_else(refused)?;
    let presented = hash_refresh(&request.client_secret);
    // A disabled account is refused like a wrong secret (after the same
    // comparison): the answer tells nothing about the account.
    if !constant_time_eq(&presented, &account.secret_hash) || account.disabled_at.is_some() {
        return Err(refused());
    }
    let id = account.id.to_string();
    let tokens = sessions::issue_pair(
        identity,
        &TokenSubject {
            id: &id,
            kind: SubjectKind::Service,
            username: &account.name,
            email: "",
            roles: &account.roles,
        },
    )
    .await?;
    Ok(IssueServiceTokenResponse {
        tokens: Some(tokens),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
