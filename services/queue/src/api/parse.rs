//! Proto → domain: every field checked against its rule, every violation
//! named by its path in the request (`unit.time_zone`, `desk.service_ids[1]`),
//! text trimmed, letters in uppercase.

use uuid::Uuid;

use crate::domain::place::{
    DESK_NAME_MAX, DESK_SERVICES_MAX, DeskPatch, NAME_MAX, NewDesk, NewService, NewUnit,
    ServicePatch, UnitPatch,
};
use crate::domain::{FairnessRule, Letter, Priority, TimeZone};
use malha_api::malha::queue::v1 as pb;
use malha_kit::ServiceError;
use malha_kit::mask::{Mask, Updatable};
use malha_kit::page::PageRequest;
use malha_kit::stored::StoredName;
use malha_kit::validate::Violations;

/// Parses the page fields, recording their violations with the others.
pub(super) fn page(v: &mut Violations, page_size: i32, page_token: &str) -> PageRequest {
    match PageRequest::parse(page_size, page_token) {
        Ok(page) => page,
        Err(error) => {
            if let ServiceError::InvalidArgument(violations) = error {
                for violation in violations {
                    v.add(violation.field, violation.description);
                }
            }
            // Never queried: the recorded violations fail the request first.
            PageRequest {
                size: 1,
                after: None,
            }
        }
    }
}

/// A trimmed required text of at most `max` characters.
fn name(v: &mut Violations, value: &str, field: &str, max: usize) -> String {
    v.text(value, field, max);
    value.trim().to_owned()
}

fn time_zone(v: &mut Violations, value: &str, field: &str) -> Option<TimeZone> {
    TimeZone::parse(value).map_err(|e| v.add(field, e)).ok()
}

fn rule(v: &mut Violations, value: i32, field: &str) -> Option<FairnessRule> {
    FairnessRule::new(value).map_err(|e| v.add(field, e)).ok()
}

fn letter(v: &mut Violations, value: &str, field: &str) -> Option<Letter> {
    Letter::parse(value).map_err(|e| v.add(field, e)).ok()
}

/// At least one service id, each a UUID, at most [`DESK_SERVICES_MAX`];
/// sorted and without duplicates.
fn service_ids(v: &mut Violations, given: &[String], field: &str) -> Vec<Uuid> {
    if given.is_empty() {
        v.add(field, "at least one service");
    }
    if given.len() > DESK_SERVICES_MAX {
        v.add(field, format!("at most {DESK_SERVICES_MAX} services"));
    }
    let mut ids: Vec<Uuid> = given
        .iter()
        .enumerate()
        .map(|(i, id)| v.uuid(id, &format!("{field}[{i}]")))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A unit to open; `None` only when a violation was recorded.
pub(super) fn new_unit(v: &mut Violations, given: Option<&pb::Unit>) -> Option<NewUnit> {
    let Some(u) = given else {
        v.add("unit", "required");
        return None;
    };
    let name = name(v, &u.name, "unit.name", NAME_MAX);
    let time_zone = time_zone(v, &u.time_zone, "unit.time_zone");
    let rule = rule(v, u.max_preferential_streak, "unit.max_preferential_streak");
    Some(NewUnit {
        name,
        time_zone: time_zone?,
        rule: rule?,
    })
}

/// The fields UpdateUnit writes.
pub(super) const UNIT_UPDATABLE: Updatable =
    Updatable::new(&["name", "time_zone", "max_preferential_streak"]);

/// The unit changes `mask` selects, each checked like on create.
pub(super) fn unit_patch(v: &mut Violations, u: &pb::Unit, mask: &Mask) -> UnitPatch {
    UnitPatch {
        name: mask
            .has("name")
            .then(|| name(v, &u.name, "unit.name", NAME_MAX)),
        time_zone: mask
            .has("time_zone")
            .then(|| time_zone(v, &u.time_zone, "unit.time_zone"))
            .flatten(),
        rule: mask
            .has("max_preferential_streak")
            .then(|| rule(v, u.max_preferential_streak, "unit.max_preferential_streak"))
            .flatten(),
    }
}

/// A service to add; `None` only when a violation was recorded.
pub(super) fn new_service(v: &mut Violations, given: Option<&pb::Service>) -> Option<NewService> {
    let Some(s) = given else {
        v.add("service", "required");
        return None;
    };
    let unit_id = v.uuid(&s.unit_id, "service.unit_id");
    let name = name(v, &s.name, "service.name", NAME_MAX);
    let letter = letter(v, &s.letter, "service.letter");
    Some(NewService {
        unit_id,
        name,
        letter: letter?,
    })
}

/// The fields UpdateService writes; the unit is fixed at creation.
pub(super) const SERVICE_UPDATABLE: Updatable =
    Updatable::new(&["name", "letter"]).with_hints(&[(
        "unit_id",
        "a service stays in its unit; create one in the other",
    )]);

/// The service changes `mask` selects.
pub(super) fn service_patch(v: &mut Violations, s: &pb::Service, mask: &Mask) -> ServicePatch {
    ServicePatch {
        name: mask
            .has("name")
            .then(|| name(v, &s.name, "service.name", NAME_MAX)),
        letter: mask
            .has("letter")
            .then(|| letter(v, &s.letter, "service.letter"))
            .flatten(),
    }
}

/// A desk to add; `None` only when a violation was recorded.
pub(super) fn new_desk(v: &mut Violations, given: Option<&pb::Desk>) -> Option<NewDesk> {
    let Some(d) = given else {
        v.add("desk", "required");
        return None;
    };
    Some(NewDesk {
        unit_id: v.uuid(&d.unit_id, "desk.unit_id"),
        name: name(v, &d.name, "desk.name", DESK_NAME_MAX),
        service_ids: service_ids(v, &d.service_ids, "desk.service_ids"),
    })
}

/// The fields UpdateDesk writes; the unit is fixed at creation.
pub(super) const DESK_UPDATABLE: Updatable =
    Updatable::new(&["name", "service_ids"]).with_hints(&[(
        "unit_id",
        "a desk stays in its unit; create one in the other",
    )]);

/// The desk changes `mask` selects.
pub(super) fn desk_patch(v: &mut Violations, d: &pb::Desk, mask: &Mask) -> DeskPatch {
    DeskPatch {
        name: mask
            .has("name")
            .then(|| name(v, &d.name, "desk.name", DESK_NAME_MAX)),
        service_ids: mask
            .has("service_ids")
            .then(|| service_ids(v, &d.service_ids, "desk.service_ids")),
    }
}

/// A ticket's priority; unspecified or unknown values are refused.
pub(super) fn priority(v: &mut Violations, value: i32, field: &str) -> Option<Priority> {
    let found = Priority::ALL
        .iter()
        .copied()
        .find(|p| i32::from(super::convert::priority(*p)) == value);
    if found.is_none() {
        v.add(
            field,
            "required: normal or one of the preferential groups (PRIORITY_AGED_80_PLUS...)",
        );
    }
    found
}

/// A panel cursor received from a client.
pub(super) fn cursor(
    v: &mut Violations,
    value: &str,
    field: &str,
) -> Option<crate::domain::panel::Cursor> {
    crate::domain::panel::Cursor::parse(value)
        .map_err(|e| v.add(field, e))
        .ok()
}

/// How many calls a panel snapshot holds.
pub(super) fn recent(v: &mut Violations, value: i32, field: &str) -> usize {
    crate::domain::panel::recent(value)
        .map_err(|e| v.add(field, e))
        .unwrap_or(1)
}

/// An optional CPF: empty is none; otherwise its check digits must match.
pub(super) fn optional_cpf(
    v: &mut Violations,
    value: &str,
    field: &str,
) -> Option<malha_kit::cpf::Cpf> {
    if value.trim().is_empty() {
        return None;
    }
    malha_kit::cpf::Cpf::parse(value)
        .map_err(|e| v.add(field, e.to_string()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A typo in a declaration would make a path silently unwritable.
    #[test]
    fn every_updatable_path_is_a_field_of_the_contract() {
        assert!(UNIT_UPDATABLE.undeclared_in::<pb::Unit>().is_empty());
        assert!(SERVICE_UPDATABLE.undeclared_in::<pb::Service>().is_empty());
        assert!(DESK_UPDATABLE.undeclared_in::<pb::Desk>().is_empty());
    }

    fn fields(v: Violations) -> Vec<String> {
        match v.finish() {
            Err(ServiceError::InvalidArgument(list)) => list.into_iter().map(|f| f.field).collect(),
            other => panic!("expected violations, got {other:?}"),
        }
    }

    #[test]
    fn every_priority_of_the_contract_parses_and_unspecified_is_refused() {
        for p in Priority::ALL {
            let mut v = Violations::new();
            let value = i32::from(super::super::convert::priority(*p));
            assert_eq!(priority(&mut v, value, "priority"), Some(*p));
            assert!(v.finish().is_ok());
        }
        let mut v = Violations::new();
        assert_eq!(priority(&mut v, 0, "priority"), None);
        assert_eq!(fields(v), ["priority"]);
    }

    #[test]
    fn a_bad_unit_names_every_field() {
        let mut v = Violations::new();
        let unit = pb::Unit {
            name: " ".into(),
            time_zone: "Mars/Olympus".into(),
            max_preferential_streak: 11,
            ..pb::Unit::default()
        };
        assert!(new_unit(&mut v, Some(&unit)).is_none());
        assert_eq!(
            fields(v),
            [
                "unit.name",
                "unit.time_zone",
                "unit.max_preferential_streak"
            ]
        );
    }

    #[test]
    fn a_unit_defaults_to_sao_paulo_and_a_streak_of_two() {
        let mut v = Violations::new();
        let unit = pb::Unit {
            name: "Clínica Centro".into(),
            ..pb::Unit::default()
        };
        let new = new_unit(&mut v, Some(&unit)).unwrap();
        assert!(v.finish().is_ok());
        assert_eq!(new.time_zone.name(), "America/Sao_Paulo");
        assert_eq!(new.rule.max_preferential_streak(), 2);
    }

    #[test]
    fn desk_service_ids_are_checked_one_by_one_sorted_and_deduplicated() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let mut v = Violations::new();
        let ids = service_ids(
            &mut v,
            &[b.to_string(), a.to_string(), b.to_string()],
            "desk.service_ids",
        );
        assert!(v.finish().is_ok());
        assert_eq!(ids, [a, b]);

        let mut v = Violations::new();
        service_ids(&mut v, &[a.to_string(), "x".into()], "desk.service_ids");
        assert_eq!(fields(v), ["desk.service_ids[1]"]);
        let mut v = Violations::new();
        service_ids(&mut v, &[], "desk.service_ids");
        assert_eq!(fields(v), ["desk.service_ids"]);
    }
}
