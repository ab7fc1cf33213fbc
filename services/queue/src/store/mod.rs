//! Queue's SQL: [`units`], [`services`], [`desks`], [`tickets`], [`panel`]. Database errors become
//! service errors in [`conflict`], the one place that knows what each
//! unique and foreign key means to a caller.

pub mod desks;
pub mod panel;
pub mod services;
pub mod tickets;
pub mod units;

use malha_kit::ServiceError;

/// A database error with the unique and foreign-key violations a caller can
/// cause named for them (`what`: "a service with this letter").
pub(crate) fn conflict(error: sqlx::Error, what: &str) -> ServiceError {
    let constraint = match &error {
        sqlx::Error::Database(db) => db.constraint().map(str::to_owned),
        _ => None,
    };
    match (ServiceError::from(error), constraint.as_deref()) {
        (ServiceError::AlreadyExists(_), _) => {
            ServiceError::AlreadyExists(format!("{what} already exists in this unit"))
        }
        (
            ServiceError::FailedPrecondition { .. },
            Some("services_unit_id_fkey" | "desks_unit_id_fkey"),
        ) => ServiceError::NotFound { resource: "unit" },
        (
            ServiceError::FailedPrecondition { .. },
            Some("desk_services_unit_id_service_id_fkey"),
        ) => ServiceError::precondition(
            "SERVICE_OF_ANOTHER_UNIT",
            "every service a desk serves must be one of its unit's services",
        ),
        (other, _) => other,
    }
}
