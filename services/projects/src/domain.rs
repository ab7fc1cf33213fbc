//! Project rules, free of I/O: the status machine and what a valid project is.

use std::collections::HashSet;

use malha_kit::validate::Violations;

/// Where a project stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Planned,
    InProgress,
    Done,
    Cancelled,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::InProgress => "in_progress",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses the stored name.
    pub fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "planned" => Self::Planned,
            "in_progress" => Self::InProgress,
            "done" => Self::Done,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
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
        for s in [Planned, InProgress, Done, Cancelled] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
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
