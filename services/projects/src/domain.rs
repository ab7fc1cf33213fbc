//! Project rules, free of I/O: the status machine, the schedule and what a
//! valid project is.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use malha_kit::stored::StoredName;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

/// Where a project stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Planned,
    InProgress,
    Done,
    Cancelled,
}

impl StoredName for Status {
    const KIND: &'static str = "project status";
    const ALL: &'static [Self] = &[Self::Planned, Self::InProgress, Self::Done, Self::Cancelled];

    fn as_str(self) -> &'static str {
        Status::as_str(self)
    }
}

impl Status {
    /// The stored name (also here, not only in [`StoredName`], so that
    /// writers need no trait import).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::InProgress => "in_progress",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    /// A new project's status: PLANNED unless asked otherwise (`None`), and
    /// only PLANNED or IN_PROGRESS: a project is not created finished.
    pub fn initial(requested: Option<Self>) -> Option<Self> {
        match requested {
            None => Some(Self::Planned),
            Some(s @ (Self::Planned | Self::InProgress)) => Some(s),
            Some(Self::Done | Self::Cancelled) => None,
        }
    }

    /// The move from `self` to `next`, or FAILED_PRECONDITION naming both.
    pub fn move_to(self, next: Self) -> ServiceResult<Self> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(ServiceError::precondition(
                "ILLEGAL_TRANSITION",
                format!(
                    "a {} project cannot become {}",
                    self.as_str(),
                    next.as_str()
                ),
            ))
        }
    }

    /// Planned → in progress → done; planned or in progress → cancelled.
    /// Staying in the same status is allowed (idempotent updates).
    pub fn can_become(self, next: Self) -> bool {
        use Status::{Cancelled, Done, InProgress, Planned};
        self == next
            || matches!(
                (self, next),
                (Planned, InProgress) | (InProgress, Done) | (Planned | InProgress, Cancelled)
            )
    }

    /// Only projects that never started may be deleted.
    pub fn deletable(self) -> bool {
        matches!(self, Self::Planned | Self::Cancelled)
    }

    /// Ok when a project in this status may be deleted; FAILED_PRECONDITION
    /// otherwise.
    pub fn check_deletable(self) -> ServiceResult<()> {
        if self.deletable() {
            Ok(())
        } else {
            Err(ServiceError::precondition(
                "PROJECT_STARTED",
                "only planned or cancelled projects can be deleted; cancel it instead",
            ))
        }
    }
}

/// When a project starts and is due; either may be unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Schedule {
    pub start: Option<DateTime<Utc>>,
    pub due: Option<DateTime<Utc>>,
}

impl Schedule {
    /// Records a violation of `project.due_time` when the project would be
    /// due before it starts (a project due the moment it starts is fine).
    pub fn check(self, v: &mut Violations) {
        if let (Some(start), Some(due)) = (self.start, self.due) {
            v.check(
                due >= start,
                "project.due_time",
                "must not be before start_time",
            );
        }
    }
}

/// A material line as requested.
pub struct MaterialInput<'a> {
    pub product_id: &'a str,
    pub product_name: &'a str,
    pub quantity: i64,
}

/// Largest quantity of one material in one project.
pub const MAX_QUANTITY: i64 = 1_000_000;

/// Checks the materials of a new project: at least one, valid product ids,
/// names, 1..=MAX_QUANTITY sheets, each product once.
pub fn check_materials(v: &mut Violations, materials: &[MaterialInput<'_>]) -> Vec<uuid::Uuid> {
    if materials.is_empty() {
        v.add("project.materials", "at least one material is required");
    }
    let mut seen = HashSet::new();
    let mut ids = Vec::with_capacity(materials.len());
    for (i, m) in materials.iter().enumerate() {
        let id = v.uuid(m.product_id, &format!("project.materials[{i}].product_id"));
        if !id.is_nil() && !seen.insert(id) {
            v.add(
                format!("project.materials[{i}].product_id"),
                "each product may appear once",
            );
        }
        v.text(
            m.product_name,
            &format!("project.materials[{i}].product_name"),
            200,
        );
        if !(1..=MAX_QUANTITY).contains(&m.quantity) {
            v.add(
                format!("project.materials[{i}].quantity"),
                format!("must be between 1 and {MAX_QUANTITY}"),
            );
        }
        ids.push(id);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_machine() {
        use Status::*;
        assert!(Planned.can_become(InProgress));
        assert!(InProgress.can_become(Done));
        assert!(Planned.can_become(Cancelled));
        assert!(InProgress.can_become(Cancelled));
        assert!(!Done.can_become(InProgress));
        assert!(!Cancelled.can_become(Planned));
        assert!(!Planned.can_become(Done));
        assert!(Done.can_become(Done));
        assert!(Planned.deletable() && Cancelled.deletable());
        assert!(!InProgress.deletable() && !Done.deletable());
    }

    #[test]
    fn stored_statuses_round_trip_and_an_unknown_one_is_an_error() {
        malha_kit::stored::assert_round_trips::<Status>();
        // A status a newer version might write is never read as an old one.
        let error = Status::from_stored("archived").unwrap_err();
        assert_eq!(error.value, "archived");
    }

    #[test]
    fn a_new_project_is_planned_or_in_progress() {
        use Status::*;
        assert_eq!(Status::initial(None), Some(Planned));
        assert_eq!(Status::initial(Some(InProgress)), Some(InProgress));
        assert_eq!(Status::initial(Some(Done)), None);
        assert_eq!(Status::initial(Some(Cancelled)), None);
    }

    #[test]
    fn an_illegal_move_is_a_failed_precondition_naming_both() {
        let Err(ServiceError::FailedPrecondition { reason, message }) =
            Status::Done.move_to(Status::Planned)
        else {
            panic!("expected a refused move")
        };
        assert_eq!(reason, "ILLEGAL_TRANSITION");
        assert_eq!(message, "a done project cannot become planned");
        assert!(Status::Planned.move_to(Status::InProgress).is_ok());
        assert!(Status::InProgress.check_deletable().is_err());
        assert!(Status::Cancelled.check_deletable().is_ok());
    }

    #[test]
    fn a_project_is_not_due_before_it_starts() {
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        let check = |start, due| {
            let mut v = Violations::new();
            Schedule { start, due }.check(&mut v);
            v.finish().is_ok()
        };
        assert!(check(
            at("2026-01-01T00:00:00Z"),
            at("2026-01-01T00:00:00Z")
        ));
        assert!(check(at("2026-01-01T00:00:00Z"), None));
        assert!(check(None, at("2020-01-01T00:00:00Z")));
        assert!(!check(
            at("2026-01-02T00:00:00Z"),
            at("2026-01-01T00:00:00Z")
        ));
    }

    #[test]
    fn materials_are_checked_line_by_line() {
        let id = uuid::Uuid::now_v7().to_string();
        let mut v = Violations::new();
        check_materials(
            &mut v,
            &[
                MaterialInput {
                    product_id: &id,
                    product_name: "MDF 15mm",
                    quantity: 3,
                },
                MaterialInput {
                    product_id: &id,
                    product_name: "MDF 15mm",
                    quantity: 0,
                },
                MaterialInput {
                    product_id: "x",
                    product_name: "",
                    quantity: -1,
                },
            ],
        );
        let Err(malha_kit::ServiceError::InvalidArgument(all)) = v.finish() else {
            panic!("expected violations")
        };
        let fields: Vec<_> = all.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "project.materials[1].product_id",
                "project.materials[1].quantity",
                "project.materials[2].product_id",
                "project.materials[2].product_name",
                "project.materials[2].quantity",
            ]
        );
    }

    #[test]
    fn a_project_needs_materials() {
        let mut v = Violations::new();
        check_materials(&mut v, &[]);
        assert!(v.finish().is_err());
    }
}
