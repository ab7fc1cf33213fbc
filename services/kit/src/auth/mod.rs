//! Authentication and authorization for every service.
//!
//! Tokens are EdDSA JWTs issued by identity. Every service verifies them
//! itself ([`Verifier`]) against identity's published keys, turns them into a
//! [`Principal`], and checks the RPC's declared access rule (read from the
//! contract, see [`rules`]) against its own role→permission map. Anything not
//! declared is denied.

mod cache;
mod claims;
mod principal;
pub mod rules;
mod verifier;

pub use claims::{AccessClaims, SubjectKind, TOKEN_TYPE};
pub use principal::{BearerToken, Caller, Principal, caller};
pub use rules::{AccessRule, MethodPolicy, PolicyTable, RolePermissions};
pub use verifier::{AuthError, FetchKeys, KeySource, PublicKey, Verifier};
