//! Login, refresh, logout, token validation, JWKS and key rotation.

use chrono::Utc;
use uuid::Uuid;

use super::convert;
use crate::domain::activation::ACTIVATION_REQUIRED;
use crate::domain::{RefreshOutcome, UserState, roles};
use crate::mail::SUBJECT_ACTIVATION_REQUESTED;
use crate::store::{self, tokens::Rotation, tokens::Subject};
use crate::tokens::{TokenSubject, hash_refresh};
use crate::{Identity, SCHEMA};
use malha_api::identity::*;
use malha_kit::auth::SubjectKind;
use malha_kit::events::publish;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

const BAD_CREDENTIALS: &str = "invalid username or password";

/// Issues an access token and, for users and customers, the first refresh
/// token of a new family — the session, named in the token's `sid`.
pub(super) async fn issue_pair(
    identity: &Identity,
    subject: &TokenSubject<'_>,
) -> ServiceResult<TokenPair> {
    let family = Uuid::now_v7();
    let session = (subject.kind != SubjectKind::Service).then_some(family);
    let (access_token, expires_in) = identity.tokens.access_token(subject, session).await?;
    let kind = match subject.kind {
        SubjectKind::User => "user",
        SubjectKind::Customer => "customer",
        SubjectKind::Service => {
            return Ok(TokenPair {
                access_token,
                token_type: "Bearer".into(),
                expires_in,
                refresh_token: String::new(),
                refresh_expire_time: None,
            });
        }
    };
    let refresh = identity.tokens.new_refresh();
    let id = Uuid::parse_str(subject.id).map_err(anyhow::Error::from)?;
    store::tokens::insert(
        &identity.pool,
        family,
        &Subject {
            kind: kind.into(),
            id,
            identified_only: subject
                .roles
                .iter()
                .any(|r| r == roles::CUSTOMER_IDENTIFIED),
        },
        &refresh.hash,
        refresh.expires_at,
    )
    .await?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer".into(),
        expires_in,
        refresh_token: refresh.token,
        refresh_expire_time: convert::timestamp(refresh.expires_at),
    })
}

pub(super) async fn login(
    identity: &Identity,
    request: LoginRequest,
) -> ServiceResult<LoginResponse> {
    let mut v = Violations::new();
    v.text(&request.username, "username", 64);
    v.check(!request.password.is_empty(), "password", "required");
    v.finish()?;
    let username = request.username.trim().to_ascii_lowercase();

    let now = Utc::now();
    let failures = store::failures::get(&identity.pool, &username).await?;
    if identity.lockout.is_locked(&failures, now) {
        return Err(ServiceError::ResourceExhausted(
            "too many failed logins; try again later".into(),
        ));
    }
    let found = store::users::for_login(&identity.pool, &username).await?;
    let hash = found.as_ref().map(|row| row.password_hash.clone());
    if !identity.passwords.verify(request.password, hash).await {
        let next = identity.lockout.after_failure(&failures, now);
        store::failures::save(&identity.pool, &username, &next).await?;
        return Err(ServiceError::Unauthenticated(BAD_CREDENTIALS.into()));
    }
    let Some(row) = found else {
        return Err(ServiceError::Unauthenticated(BAD_CREDENTIALS.into()));
    };
    if failures.count > 0 {
        store::failures::clear(&identity.pool, &username).await?;
    }
    let user = row.user;
    if user.state == UserState::Pending {
        return Err(request_activation(identity, &user, now).await?);
    }
    let tokens = issue_pair(identity, &user_subject(&user.id.to_string(), &user)).await?;
    tracing::info!(user = %user.id, "login");
    Ok(LoginResponse {
        tokens: Some(tokens),
        user: Some(convert::user(user)),
    })
}

/// A pending user with the right password: publishes the request for an
/// activation e-mail (unless one was sent within the resend interval) and
/// returns the error the login answers. Only a caller who knows the
/// password learns that the account is pending.
async fn request_activation(
    identity: &Identity,
    user: &store::users::UserRow,
    now: chrono::DateTime<Utc>,
) -> ServiceResult<ServiceError> {
    let not_after = now
        - chrono::Duration::from_std(identity.activation.resend_after)
            .unwrap_or(chrono::Duration::minutes(1));
    let mut tx = identity.pool.begin().await?;
    let sent = store::activation::claim_resend(&mut tx, user.id, now, not_after).await?;
    if sent {
        let person = store::people::get(&mut *tx, user.person_id).await?;
        publish(
            &mut tx,
            SCHEMA.name,
            SUBJECT_ACTIVATION_REQUESTED,
            &ActivationRequested {
                user_id: user.id.to_string(),
                username: user.username.clone(),
                email: user.email.clone(),
                name: person.name,
            },
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(user = %user.id, sent, "login of a pending user");
    let message = if sent {
        "this account is not active yet: an activation e-mail has been sent to its address; \
         activate with its code, then log in"
    } else {
        "this account is not active yet: an activation e-mail was sent a moment ago; \
         activate with its code, then log in (another is sent only after a while)"
    };
    Ok(ServiceError::precondition(ACTIVATION_REQUIRED, message))
}

pub(super) async fn activate(
    identity: &Identity,
    request: ActivateAccountRequest,
) -> ServiceResult<ActivateAccountResponse> {
    let mut v = Violations::new();
    v.check(!request.code.trim().is_empty(), "code", "required");
    v.finish()?;
    let hash = crate::mail::hash_code(request.code.trim());
    let Some(user_id) = store::activation::redeem(&identity.pool, &hash, Utc::now()).await? else {
        let mut v = Violations::new();
        v.add("code", "unknown, expired or already used");
        return Err(v.finish().unwrap_err());
    };
    tracing::info!(user = %user_id, "account activated");
    let user = store::users::get(&identity.pool, user_id).await?;
    Ok(ActivateAccountResponse {
        user: Some(convert::user(user)),
    })
}

pub(super) fn user_subject<'a>(id: &'a str, user: &'a store::users::UserRow) -> TokenSubject<'a> {
    TokenSubject {
        id,
        kind: SubjectKind::User,
        username: &user.username,
        email: &user.email,
        roles: &user.roles,
    }
}

pub(super) async fn refresh(
    identity: &Identity,
    request: RefreshTokenRequest,
) -> ServiceResult<RefreshTokenResponse> {
    let mut v = Violations::new();
    v.check(
        !request.refresh_token.is_empty(),
        "refresh_token",
        "required",
    );
    v.finish()?;
    let next = identity.tokens.new_refresh();
    let rotation = store::tokens::rotate(
        &identity.pool,
        &hash_refresh(&request.refresh_token),
        &next.hash,
        next.expires_at,
    )
    .await?;
    let (subject, family) = match rotation {
        Rotation::Rotated { subject, family } => (subject, family),
        Rotation::Refused(RefreshOutcome::ReuseDetected) => {
            return Err(ServiceError::Unauthenticated(
                "refresh token already used; the session has been revoked".into(),
            ));
        }
        Rotation::Refused(_) | Rotation::Unknown => {
            return Err(ServiceError::Unauthenticated(
                "invalid refresh token".into(),
            ));
        }
    };
    let id = subject.id.to_string();
    let (access_token, expires_in) = if subject.kind == "user" {
        let user = store::users::get(&identity.pool, subject.id).await?;
        identity
            .tokens
            .access_token(&user_subject(&id, &user), Some(family))
            .await?
    } else {
        let customer = store::customers::get(&identity.pool, subject.id).await?;
        identity
            .tokens
            .access_token(
                &super::customers::subject(&id, &customer.email, subject.identified_only),
                Some(family),
            )
            .await?
    };
    Ok(RefreshTokenResponse {
        tokens: Some(TokenPair {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            refresh_token: next.token,
            refresh_expire_time: convert::timestamp(next.expires_at),
        }),
    })
}

pub(super) async fn logout(
    identity: &Identity,
    request: LogoutRequest,
) -> ServiceResult<LogoutResponse> {
    let mut v = Violations::new();
    v.check(
        !request.refresh_token.is_empty(),
        "refresh_token",
        "required",
    );
    v.finish()?;
    // Unknown tokens are not an error: logout is idempotent.
    store::tokens::revoke_family_of(&identity.pool, &hash_refresh(&request.refresh_token)).await?;
    Ok(LogoutResponse {})
}

pub(super) async fn validate(
    identity: &Identity,
    request: ValidateTokenRequest,
) -> ServiceResult<ValidateTokenResponse> {
    let mut v = Violations::new();
    v.check(!request.access_token.is_empty(), "access_token", "required");
    v.finish()?;
    // Verified exactly as any other service would, against the published keys.
    let principal = identity
        .verifier
        .verify(&request.access_token)
        .await
        .map_err(|e| ServiceError::Unauthenticated(e.to_string()))?;
    Ok(ValidateTokenResponse {
        claims: Some(claims(identity, &principal)),
    })
}

fn claims(identity: &Identity, p: &malha_kit::auth::Principal) -> Claims {
    let ttl = i64::try_from(identity.tokens.access_ttl.as_secs()).unwrap_or(0);
    Claims {
        subject: p.subject.clone(),
        subject_kind: match p.kind {
            SubjectKind::User => SubjectKind_::User,
            SubjectKind::Customer => SubjectKind_::Customer,
            SubjectKind::Service => SubjectKind_::Service,
        } as i32,
        username: p.username.clone(),
        email: p.email.clone(),
        roles: p.roles.clone(),
        token_id: p.token_id.clone(),
        issue_time: Some(prost_types::Timestamp {
            seconds: p.expires_at - ttl,
            nanos: 0,
        }),
        expire_time: Some(prost_types::Timestamp {
            seconds: p.expires_at,
            nanos: 0,
        }),
        issuer: identity.tokens.issuer.clone(),
        audience: identity.tokens.audience.clone(),
    }
}

use malha_api::identity::SubjectKind as SubjectKind_;

pub(super) fn me(
    identity: &Identity,
    request: &tonic::Request<GetMeRequest>,
) -> ServiceResult<GetMeResponse> {
    let principal = malha_kit::auth::caller(request)?;
    Ok(GetMeResponse {
        claims: Some(claims(identity, &principal)),
    })
}

pub(super) async fn jwks(identity: &Identity) -> ServiceResult<GetJwksResponse> {
    let keys = identity.tokens.keys.current().await?;
    Ok(GetJwksResponse {
        keys: keys.published.clone(),
    })
}

pub(super) async fn rotate_key(identity: &Identity) -> ServiceResult<RotateSigningKeyResponse> {
    // Keep the old key published while tokens it signed may still be in use.
    let publish_for = identity.tokens.access_ttl + std::time::Duration::from_secs(120);
    let (kid, keys) = identity.tokens.keys.rotate(publish_for).await?;
    // Identity's own verifier learns the new key now, not at its next refresh.
    let _ = identity.verifier.refresh().await;
    let activate_time = match &keys.next {
        Some(next) if next.kid == kid => next.activate_time,
        // No delay: it signs already.
        _ => chrono::Utc::now(),
    };
    Ok(RotateSigningKeyResponse {
        kid,
        published_kids: keys.published.iter().map(|k| k.kid.clone()).collect(),
        activate_time: malha_kit::time::to_proto(activate_time),
    })
}
