//! Units, services and desks as the API creates and changes them, each
//! field already parsed.

use uuid::Uuid;

use super::{FairnessRule, Letter, TimeZone};

/// Longest unit or service name, in characters.
pub const NAME_MAX: usize = 200;
/// Longest desk name: it has to fit on a panel line.
pub const DESK_NAME_MAX: usize = 100;
/// A desk serving more services than there are letters is a typo.
pub const DESK_SERVICES_MAX: usize = 26;

/// A unit to open.
#[derive(Debug, Clone)]
pub struct NewUnit {
    pub name: String,
    pub time_zone: TimeZone,
    pub rule: FairnessRule,
}

/// The unit fields an update writes (`None`: left as is).
#[derive(Debug, Clone, Default)]
pub struct UnitPatch {
    pub name: Option<String>,
    pub time_zone: Option<TimeZone>,
    pub rule: Option<FairnessRule>,
}

/// A service to add to a unit.
#[derive(Debug, Clone)]
pub struct NewService {
    pub unit_id: Uuid,
    pub name: String,
    pub letter: Letter,
}

/// The service fields an update writes.
#[derive(Debug, Clone, Default)]
pub struct ServicePatch {
    pub name: Option<String>,
    pub letter: Option<Letter>,
}

/// A desk to add to a unit.
#[derive(Debug, Clone)]
pub struct NewDesk {
    pub unit_id: Uuid,
    pub name: String,
    /// Sorted, without duplicates, at least one.
    pub service_ids: Vec<Uuid>,
}

/// The desk fields an update writes.
#[derive(Debug, Clone, Default)]
pub struct DeskPatch {
    pub name: Option<String>,
    pub service_ids: Option<Vec<Uuid>>,
}
