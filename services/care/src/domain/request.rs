//! What a request is made of, and the limits each part must keep.

use malha_kit::stored::StoredName;

/// Longest ward name, in characters.
pub const WARD_MAX: usize = 100;
/// Longest bed label, in characters.
pub const BED_MAX: usize = 20;
/// Longest note, in characters.
pub const NOTE_MAX: usize = 1000;
/// Longest reason of a status change, in characters.
pub const REASON_MAX: usize = 500;
/// Most items in one request.
pub const ITEMS_MAX: usize = 50;
/// Quantity of one item line.
pub const QUANTITY_RANGE: std::ops::RangeInclusive<i64> = 1..=10_000;

/// How soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Routine,
    Urgent,
    Emergency,
}

impl StoredName for Priority {
    const KIND: &'static str = "care request priority";
    const ALL: &'static [Self] = &[Self::Routine, Self::Urgent, Self::Emergency];

    fn as_str(self) -> &'static str {
        match self {
            Self::Routine => "routine",
            Self::Urgent => "urgent",
            Self::Emergency => "emergency",
        }
    }
}

/// The role a request names its requester by: the clinical one when the
/// user has it, so a nurse who is also an employee reads as a nurse.
pub fn requester_role(roles: &[String]) -> String {
    const PREFERRED: [&str; 4] = ["nurse", "pharmacist", "admin", "employee"];
    PREFERRED
        .iter()
        .find(|wanted| roles.iter().any(|r| r == *wanted))
        .map(|r| (*r).to_owned())
        .or_else(|| roles.first().cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_round_trip_through_their_stored_names() {
        malha_kit::stored::assert_round_trips::<Priority>();
        assert!(Priority::from_stored("whenever").is_err());
    }

    #[test]
    fn the_requester_is_named_by_their_clinical_role_first() {
        let roles = |r: &[&str]| r.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(requester_role(&roles(&["employee", "nurse"])), "nurse");
        assert_eq!(requester_role(&roles(&["admin"])), "admin");
        assert_eq!(requester_role(&roles(&["auditor"])), "auditor");
        assert_eq!(requester_role(&[]), "");
    }
}
