//! A supplier's life: active ⇄ inactive, and what deleting does. A supplier
//! that still supplies products is referenced, so deleting it deactivates it
//! instead (the record of who supplied what stays); an inactive supplier
//! takes no new products.

use malha_kit::ServiceError;

/// A requested change of a supplier's `active` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Inactive → active.
    Activate,
    /// Active → inactive.
    Deactivate,
}

/// What a delete does to a supplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Nothing refers to it: the row goes.
    Deleted,
    /// It supplies products: it stays, inactive.
    Deactivated,
}

/// The `active` flag after `transition`, or why it is not allowed.
pub fn apply(active: bool, transition: Transition) -> Result<bool, ServiceError> {
    match (active, transition) {
        (false, Transition::Activate) => Ok(true),
        (true, Transition::Deactivate) => Ok(false),
        (true, Transition::Activate) => Err(ServiceError::precondition(
            "SUPPLIER_ALREADY_ACTIVE",
            "the supplier is already active",
        )),
        (false, Transition::Deactivate) => Err(ServiceError::precondition(
            "SUPPLIER_ALREADY_INACTIVE",
            "the supplier is already inactive",
        )),
    }
}

/// Delete when nothing refers to the supplier, deactivate otherwise.
pub fn on_delete(supplied_products: i64) -> DeleteOutcome {
    if supplied_products > 0 {
        DeleteOutcome::Deactivated
    } else {
        DeleteOutcome::Deleted
    }
}

/// Only an active supplier may be given products.
pub fn may_supply(active: bool) -> Result<(), ServiceError> {
    if active {
        Ok(())
    } else {
        Err(ServiceError::precondition(
            "SUPPLIER_INACTIVE",
            "the supplier is inactive; activate it before adding products",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<impl std::fmt::Debug, ServiceError>) -> &'static str {
        match result {
            Err(ServiceError::FailedPrecondition { reason, .. }) => reason,
            other => panic!("expected a refused transition, got {other:?}"),
        }
    }

    #[test]
    fn flips_between_active_and_inactive() {
        assert!(!apply(true, Transition::Deactivate).unwrap());
        assert!(apply(false, Transition::Activate).unwrap());
    }

    #[test]
    fn refuses_to_repeat_a_transition() {
        assert_eq!(
            reason(apply(true, Transition::Activate)),
            "SUPPLIER_ALREADY_ACTIVE"
        );
        assert_eq!(
            reason(apply(false, Transition::Deactivate)),
            "SUPPLIER_ALREADY_INACTIVE"
        );
    }

    #[test]
    fn a_referenced_supplier_is_deactivated_instead_of_deleted() {
        assert_eq!(on_delete(0), DeleteOutcome::Deleted);
        assert_eq!(on_delete(1), DeleteOutcome::Deactivated);
        assert_eq!(on_delete(40), DeleteOutcome::Deactivated);
    }

    #[test]
    fn only_active_suppliers_take_new_products() {
        assert!(may_supply(true).is_ok());
        assert_eq!(reason(may_supply(false)), "SUPPLIER_INACTIVE");
    }
}
