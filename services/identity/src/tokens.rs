//! Issuing tokens: EdDSA access JWTs (`typ: at+jwt`, `kid`, iss/aud/sub/exp/
//! iat/nbf/jti, username, email, roles) and opaque refresh tokens (32 random
//! bytes, stored as SHA-256).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Header};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::keys::KeyRing;
use malha_kit::ServiceResult;
use malha_kit::auth::{AccessClaims, SubjectKind, TOKEN_TYPE};

/// Who a token is for.
pub struct TokenSubject<'a> {
    pub id: &'a str,
    pub kind: SubjectKind,
    pub username: &'a str,
    pub email: &'a str,
    pub roles: &'a [String],
}

/// Issues tokens with the ring's active key.
pub struct TokenIssuer {
    pub keys: Arc<KeyRing>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

/// A new refresh token and the hash to store.
pub struct NewRefresh {
    pub token: String,
    pub hash: [u8; 32],
    pub expires_at: DateTime<Utc>,
}

impl TokenIssuer {
    /// A signed access token of `session` (the refresh-token family, `sid`)
    /// and its lifetime in seconds.
    pub async fn access_token(
        &self,
        subject: &TokenSubject<'_>,
        session: Option<uuid::Uuid>,
    ) -> ServiceResult<(String, i64)> {
        let keys = self.keys.current().await?;
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(self.access_ttl.as_secs()).unwrap_or(3600);
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.id.to_owned(),
            exp: now + ttl,
            iat: now,
            nbf: now,
            jti: uuid::Uuid::now_v7().to_string(),
            kind: subject.kind,
            username: subject.username.to_owned(),
            email: subject.email.to_owned(),
            roles: subject.roles.to_vec(),
            sid: session.map(|s| s.to_string()).unwrap_or_default(),
        };
        let header = Header {
            alg: Algorithm::EdDSA,
            typ: Some(TOKEN_TYPE.into()),
            kid: Some(keys.active_kid.clone()),
            ..Header::default()
        };
        let token = jsonwebtoken::encode(&header, &claims, &keys.encoding)
            .map_err(|e| anyhow::anyhow!("signing an access token: {e}"))?;
        Ok((token, ttl))
    }

    /// A fresh refresh token.
    pub fn new_refresh(&self) -> NewRefresh {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        NewRefresh {
            hash: hash_refresh(&token),
            token,
            expires_at: Utc::now()
                + chrono::Duration::from_std(self.refresh_ttl)
                    .unwrap_or(chrono::Duration::days(30)),
        }
    }
}

/// The stored form of a refresh token (or a client secret).
pub fn hash_refresh(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Mints access tokens for a service served by the same process as
/// identity: it calls other services on its own behalf without a service
/// account (the process already holds identity's signing keys). The token's
/// subject is the service's name, with the `service` role.
pub struct LocalService {
    issuer: Arc<TokenIssuer>,
    name: &'static str,
    roles: Vec<String>,
}

impl LocalService {
    pub(crate) fn new(issuer: Arc<TokenIssuer>, name: &'static str) -> Self {
        Self {
            issuer,
            name,
            roles: vec!["service".to_owned()],
        }
    }
}

impl malha_kit::clients::MintToken for LocalService {
    fn mint(&self) -> futures::future::BoxFuture<'_, Result<(String, Duration), tonic::Status>> {
        Box::pin(async move {
            let subject = TokenSubject {
                id: self.name,
                kind: SubjectKind::Service,
                username: self.name,
                email: "",
                roles: &self.roles,
            };
            let (token, ttl) = self.issuer.access_token(&subject, None).await?;
            Ok((token, Duration::from_secs(u64::try_from(ttl).unwrap_or(0))))
        })
    }
}
