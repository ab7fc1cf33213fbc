//! Dispensing cabinets: their codes, pocket names and the life of a
//! cabinet (active, in maintenance, retired for good).

use malha_kit::stored::StoredName;

/// A cabinet's code, unique among cabinets (`PYX-UTI-01`): 1 to 32 ASCII
/// letters, digits and dashes, kept in uppercase so codes compare as people
/// read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispenserCode(String);

impl TryFrom<&str> for DispenserCode {
    type Error = &'static str;

    fn try_from(raw: &str) -> Result<Self, Self::Error> {
        code(raw, 32).map(Self)
    }
}

impl DispenserCode {
    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A pocket within a cabinet, by drawer and pocket (`A-03`): 1 to 16 ASCII
/// letters, digits and dashes, in uppercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PocketCode(String);

impl TryFrom<&str> for PocketCode {
    type Error = &'static str;

    fn try_from(raw: &str) -> Result<Self, Self::Error> {
        code(raw, 16).map(Self)
    }
}

impl PocketCode {
    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn code(raw: &str, max: usize) -> Result<String, &'static str> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("required");
    }
    if trimmed.len() > max {
        return Err(if max == 32 {
            "at most 32 characters"
        } else {
            "at most 16 characters"
        });
    }
    if !trimmed
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err("only letters, digits and dashes");
    }
    if trimmed.starts_with('-') || trimmed.ends_with('-') {
        return Err("must start and end with a letter or digit");
    }
    Ok(trimmed.to_ascii_uppercase())
}

/// Where a cabinet is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispenserStatus {
    /// Dispensing.
    Active,
    /// Out of service for now.
    Maintenance,
    /// Out of service for good: kept for the ledger, never reactivated.
    Retired,
}

impl StoredName for DispenserStatus {
    const KIND: &'static str = "dispenser status";
    const ALL: &'static [Self] = &[Self::Active, Self::Maintenance, Self::Retired];

    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Maintenance => "maintenance",
            Self::Retired => "retired",
        }
    }
}

impl DispenserStatus {
    /// Whether a cabinet in this status may go to `next`. Setting the status
    /// it already has is allowed (an update naming `status` unchanged), but
    /// nothing leaves `Retired`: a retired cabinet's pockets may have been
    /// emptied by hand, so its ledger no longer describes a real cabinet.
    pub fn may_become(self, next: Self) -> bool {
        self == next || self != Self::Retired
    }

    /// Whether stock may move at the cabinet. Maintenance still takes
    /// restocks, returns and counts (that is what a technician does), but no
    /// dispenses; a retired cabinet takes nothing.
    pub fn accepts(self, kind: super::stock::MovementKind) -> bool {
        match self {
            Self::Active => true,
            Self::Maintenance => kind != super::stock::MovementKind::Dispense,
            Self::Retired => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::stock::MovementKind;
    use super::*;

    #[test]
    fn codes_are_trimmed_uppercased_and_limited() {
        assert_eq!(
            DispenserCode::try_from(" pyx-uti-01 ").unwrap().as_str(),
            "PYX-UTI-01"
        );
        assert_eq!(PocketCode::try_from("a-03").unwrap().as_str(), "A-03");
        assert_eq!(DispenserCode::try_from("  "), Err("required"));
        assert!(DispenserCode::try_from("PYX UTI").is_err());
        assert!(DispenserCode::try_from("-PYX").is_err());
        assert!(DispenserCode::try_from("PYX-ÚTI").is_err());
        assert!(DispenserCode::try_from(&*"A".repeat(33)).is_err());
        assert!(DispenserCode::try_from(&*"A".repeat(32)).is_ok());
        assert!(PocketCode::try_from(&*"A".repeat(17)).is_err());
    }

    #[test]
    fn statuses_round_trip_through_their_stored_names() {
        malha_kit::stored::assert_round_trips::<DispenserStatus>();
    }

    #[test]
    fn nothing_leaves_retirement() {
        use DispenserStatus::*;
        assert!(Active.may_become(Maintenance));
        assert!(Maintenance.may_become(Active));
        assert!(Active.may_become(Retired));
        assert!(Retired.may_become(Retired));
        assert!(!Retired.may_become(Active));
        assert!(!Retired.may_become(Maintenance));
    }

    #[test]
    fn a_cabinet_in_maintenance_does_not_dispense_and_a_retired_one_moves_nothing() {
        use DispenserStatus::*;
        for kind in MovementKind::ALL {
            assert!(Active.accepts(*kind), "{kind:?}");
            assert!(!Retired.accepts(*kind), "{kind:?}");
        }
        assert!(!Maintenance.accepts(MovementKind::Dispense));
        assert!(Maintenance.accepts(MovementKind::Restock));
        assert!(Maintenance.accepts(MovementKind::Adjust));
    }
}
