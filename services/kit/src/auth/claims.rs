//! The claims of a Malha access token (RFC 9068 profile, `typ: at+jwt`).

use serde::{Deserialize, Serialize};

/// The JOSE `typ` of access tokens; other token types are refused.
pub const TOKEN_TYPE: &str = "at+jwt";

/// Who a token was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    /// A person's user account (admin, employee).
    User,
    /// A customer, identified by CPF or anonymous.
    Customer,
    /// A service account (client credentials).
    Service,
}

impl SubjectKind {
    /// The lowercase name used in tokens and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Customer => "customer",
            Self::Service => "service",
        }
    }
}

/// Registered and private claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Subject: the user, customer or service-account id.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Token id.
    pub jti: String,
    /// What the subject is.
    pub kind: SubjectKind,
    /// Login name (empty for customers and services).
    #[serde(default)]
    pub username: String,
    /// E-mail, when known.
    #[serde(default)]
    pub email: String,
    /// Roles granted by identity; each service maps them to its permissions.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The session (refresh-token family) the token was issued in; empty for
    /// service tokens. Lets a service scope what a session-bound token sees.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
}
