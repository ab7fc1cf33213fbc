//! The verified caller of an RPC, placed in the request's extensions by the
//! kit's auth layer.

use std::sync::Arc;

use super::claims::{AccessClaims, SubjectKind};
use crate::error::ServiceError;

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User, customer or service-account id.
    pub subject: String,
    /// What the subject is.
    pub kind: SubjectKind,
    /// Login name (users only).
    pub username: String,
    /// E-mail, when known.
    pub email: String,
    /// Roles from the token.
    pub roles: Vec<String>,
    /// The token's `jti`.
    pub token_id: String,
    /// The token's expiry, seconds since the epoch.
    pub expires_at: i64,
    /// The token's `sid`: its session, empty when it has none.
    pub session_id: String,
}

impl Principal {
    /// True when the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

impl From<AccessClaims> for Principal {
    fn from(c: AccessClaims) -> Self {
        Self {
            subject: c.sub,
            kind: c.kind,
            username: c.username,
            email: c.email,
            roles: c.roles,
            token_id: c.jti,
            expires_at: c.exp,
            session_id: c.sid,
        }
    }
}

/// The request extension holding the verified caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Principal>);

/// The caller's raw bearer token, kept to forward on outgoing calls.
#[derive(Debug, Clone)]
pub struct BearerToken(pub Arc<str>);

/// The verified caller of `request`; UNAUTHENTICATED when the RPC was public
/// and no valid token came with it.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<Arc<Principal>, ServiceError> {
    request
        .extensions()
        .get::<Caller>()
        .map(|c| Arc::clone(&c.0))
        .ok_or_else(|| ServiceError::Unauthenticated("a valid access token is required".into()))
}
