//! One error type for every service, mapped to `tonic::Status` in exactly one
//! place, with `google.rpc` details (BadRequest field violations, ErrorInfo).
//! Internal causes are logged with an id and never returned to the caller.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// A field that failed validation, as `google.rpc.BadRequest.FieldViolation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, in proto naming (`items[0].quantity`).
    pub field: String,
    /// What is wrong with it, for a person to read.
    pub description: String,
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed; every offending field is named.
    #[error("invalid argument")]
    InvalidArgument(Vec<FieldViolation>),
    /// The named resource does not exist (or the caller may not see it).
    #[error("{resource} not found")]
    NotFound { resource: &'static str },
    /// A unique resource already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The resource is not in a state that allows this call.
    #[error("{message}")]
    FailedPrecondition {
        /// A stable, UPPER_SNAKE reason for `ErrorInfo`.
        reason: &'static str,
        /// A sentence for a person.
        message: String,
    },
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials without the needed permission.
    #[error("{0}")]
    PermissionDenied(String),
    /// Too many attempts; retry later.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A dependency is down; the call may be retried. The text is logged,
    /// never returned (it may name hosts or database errors).
    #[error("{0}")]
    Unavailable(String),
    /// A service this one calls (`peer`, a target name) did not answer, so
    /// nothing was changed; the caller is told which, and may retry.
    #[error("{peer} unavailable: {detail}")]
    PeerUnavailable {
        peer: &'static str,
        /// For the log only.
        detail: String,
    },
    /// A bug or an unexpected failure; details go to the log only.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The result type of handlers and stores.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// What a tonic handler returns.
pub type Reply<T> = Result<tonic::Response<T>, Status>;

/// A handler's result as tonic wants it: the one place errors become statuses.
pub fn reply<T>(result: ServiceResult<T>) -> Reply<T> {
    result.map(tonic::Response::new).map_err(Status::from)
}

const DOMAIN: &str = "malha.dev";

impl ServiceError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// A refused state transition.
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            reason,
            message: message.into(),
        }
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::InvalidArgument(violations) => malha_api::codec::bad_request(
                violations
                    .iter()
                    .map(|v| (v.field.as_str(), v.description.as_str())),
            ),
            ServiceError::NotFound { resource } => with_reason(
                Code::NotFound,
                &format!("{resource} not found"),
                "NOT_FOUND",
            ),
            ServiceError::AlreadyExists(message) => {
                with_reason(Code::AlreadyExists, &message, "ALREADY_EXISTS")
            }
            ServiceError::FailedPrecondition { reason, message } => {
                with_reason(Code::FailedPrecondition, &message, reason)
            }
            ServiceError::Unauthenticated(message) => {
                with_reason(Code::Unauthenticated, &message, "UNAUTHENTICATED")
            }
            ServiceError::PermissionDenied(message) => {
                with_reason(Code::PermissionDenied, &message, "PERMISSION_DENIED")
            }
            ServiceError::ResourceExhausted(message) => {
                with_reason(Code::ResourceExhausted, &message, "RESOURCE_EXHAUSTED")
            }
            ServiceError::PeerUnavailable { peer, detail } => {
                tracing::warn!(peer, error = %detail, "peer unavailable");
                with_reason(
                    Code::Unavailable,
                    &format!("{peer} did not answer; nothing was changed, retry later"),
                    "PEER_UNAVAILABLE",
                )
            }
            ServiceError::Unavailable(message) => {
                tracing::warn!(error = %message, "dependency unavailable");
                with_reason(
                    Code::Unavailable,
                    "service temporarily unavailable",
                    "UNAVAILABLE",
                )
            }
            ServiceError::Internal(cause) => {
                let incident = uuid::Uuid::now_v7();
                tracing::error!(%incident, error = ?cause, "internal error");
                let mut details = ErrorDetails::new();
                details.set_error_info(
                    "INTERNAL",
                    DOMAIN,
                    [("incident".to_string(), incident.to_string())],
                );
                Status::with_error_details(
                    Code::Internal,
                    format!("internal error (incident {incident})"),
                    details,
                )
            }
        }
    }
}

fn with_reason(code: Code, message: &str, reason: &str) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, DOMAIN, std::collections::HashMap::new());
    Status::with_error_details(code, message, details)
}

/// SQLSTATEs of a server that cannot serve now but will (a restart, a
/// failover, a full connection table): the call is worth retrying, so
/// UNAVAILABLE rather than INTERNAL. Class 08 (connection exception),
/// 57P01–57P03 (shutting down, crashed, starting up), 53300 (too many
/// connections).
fn server_unavailable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "53300")
}

/// Database errors converted by SQLSTATE in one place.
impl From<sqlx::Error> for ServiceError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => Self::NotFound {
                resource: "resource",
            },
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Self::Unavailable(format!("database: {error}"))
            }
            sqlx::Error::Database(db) => match db.code().as_deref() {
                Some("23505") => Self::AlreadyExists("already exists".into()),
                Some("23503") => Self::precondition(
                    "REFERENCED_RESOURCE",
                    "a referenced resource does not exist or is still in use",
                ),
                Some("57014") => Self::Unavailable("statement timeout".into()),
                Some(code) if server_unavailable(code) => {
                    Self::Unavailable(format!("database: {}", db.message()))
                }
                _ => Self::Internal(anyhow::Error::new(error)),
            },
            _ => Self::Internal(anyhow::Error::new(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thousand_violations_fit_in_a_trailer() {
        let violations = (0..1000)
            .map(|i| FieldViolation {
                field: format!("items[{i}].product_id"),
                description: "x".repeat(100_000),
            })
            .collect();
        let status: Status = ServiceError::InvalidArgument(violations).into();
        assert!(
            status.message().ends_with("(and 975 more)"),
            "{}",
            status.message()
        );
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        assert_eq!(bad.field_violations.len(), malha_api::codec::MAX_VIOLATIONS);
        assert_eq!(bad.field_violations[0].field, "items[0].product_id");
        assert!(bad.field_violations[0].description.chars().count() <= 201);
        assert!(
            status.details().len() < 16 * 1024 / 2,
            "{} bytes",
            status.details().len()
        );
    }

    #[test]
    fn a_restarting_or_full_server_is_unavailable_not_internal() {
        for code in ["57P01", "57P02", "57P03", "53300", "08006", "08001"] {
            assert!(server_unavailable(code), "{code}");
        }
        for code in ["23505", "42P01", "57014", "40001", "XX000"] {
            assert!(!server_unavailable(code), "{code}");
        }
    }

    #[test]
    fn invalid_argument_carries_every_field_violation() {
        let status: Status = ServiceError::InvalidArgument(vec![
            FieldViolation {
                field: "cpf".into(),
                description: "check digits do not match".into(),
            },
            FieldViolation {
                field: "name".into(),
                description: "required".into(),
            },
        ])
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        let fields: Vec<_> = bad
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["cpf", "name"]);
    }

    #[test]
    fn internal_errors_leak_nothing() {
        let status: Status =
            ServiceError::Internal(anyhow::anyhow!("password column secret123 broke")).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret123"));
        assert!(status.message().starts_with("internal error (incident "));
    }

    #[test]
    fn a_peer_outage_names_the_peer_and_nothing_else() {
        let status: Status = ServiceError::PeerUnavailable {
            peer: "pharmacy",
            detail: "tcp connect error 10.0.0.7:8080".into(),
        }
        .into();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.message(),
            "pharmacy did not answer; nothing was changed, retry later"
        );
        let status: Status = ServiceError::Unavailable("database: 10.0.0.9 refused".into()).into();
        assert!(!status.message().contains("10.0.0.9"));
    }
}
