//! Proto → domain: every field checked against its rule, every violation
//! named by its path in the request (`medicine.name`,
//! `dispenser.location.ward`), text trimmed, codes normalised.

use crate::domain::catalog::{
    MAX_FORM, MAX_NAME, MAX_UNIT, MaterialPatch, MedicinePatch, NewMaterial, NewMedicine,
};
use crate::domain::stock;
use crate::domain::{DispenserCode, DispenserStatus, MovementKind, MovementQuantity, PocketCode};
use crate::store::dispensers::{DispenserPatch, Location, NewDispenser};
use malha_api::malha::pharmacy::v1 as pb;
use malha_kit::mask::{Mask, Updatable};
use malha_kit::validate::Violations;

/// A trimmed required text of at most `max` characters.
pub(super) fn required_text(v: &mut Violations, value: &str, field: &str, max: usize) -> String {
    v.text(value, field, max);
    value.trim().to_owned()
}

/// A trimmed optional text of at most `max` characters.
pub(super) fn optional_text(v: &mut Violations, value: &str, field: &str, max: usize) -> String {
    let value = value.trim();
    if value.chars().count() > max {
        v.add(field, format!("at most {max} characters"));
    }
    value.to_owned()
}

/// A trimmed search text (`query`): optional, at most a name long.
pub(super) fn query<'a>(v: &mut Violations, value: &'a str, field: &str) -> Option<&'a str> {
    let value = value.trim();
    if value.chars().count() > MAX_NAME {
        v.add(field, format!("at most {MAX_NAME} characters"));
    }
    (!value.is_empty()).then_some(value)
}

/// A medicine to create; `None` only when a violation was recorded.
pub(super) fn new_medicine(
    v: &mut Violations,
    given: Option<&pb::Medicine>,
) -> Option<NewMedicine> {
    let Some(m) = given else {
        v.add("medicine", "required");
        return None;
    };
    Some(NewMedicine {
        name: required_text(v, &m.name, "medicine.name", MAX_NAME),
        active_ingredient: required_text(
            v,
            &m.active_ingredient,
            "medicine.active_ingredient",
            MAX_NAME,
        ),
        strength: required_text(v, &m.strength, "medicine.strength", MAX_FORM),
        dosage_form: required_text(v, &m.dosage_form, "medicine.dosage_form", MAX_FORM),
        unit: required_text(v, &m.unit, "medicine.unit", MAX_UNIT),
        controlled: m.controlled,
    })
}

/// The fields UpdateMedicine writes.
pub(super) const MEDICINE_UPDATABLE: Updatable = Updatable::new(&[
    "name",
    "active_ingredient",
    "strength",
    "dosage_form",
    "unit",
    "controlled",
])
.with_hints(&[("active", "use DeactivateMedicine")]);

/// The changes `mask` selects from `m`, each checked like on create.
pub(super) fn medicine_patch(v: &mut Violations, m: &pb::Medicine, mask: &Mask) -> MedicinePatch {
    let has = |path: &str| mask.has(path);
    MedicinePatch {
        name: has("name").then(|| required_text(v, &m.name, "medicine.name", MAX_NAME)),
        active_ingredient: has("active_ingredient").then(|| {
            required_text(
                v,
                &m.active_ingredient,
                "medicine.active_ingredient",
                MAX_NAME,
            )
        }),
        strength: has("strength")
            .then(|| required_text(v, &m.strength, "medicine.strength", MAX_FORM)),
        dosage_form: has("dosage_form")
            .then(|| required_text(v, &m.dosage_form, "medicine.dosage_form", MAX_FORM)),
        unit: has("unit").then(|| required_text(v, &m.unit, "medicine.unit", MAX_UNIT)),
        controlled: has("controlled").then_some(m.controlled),
    }
}

/// A material to create; `None` only when a violation was recorded.
pub(super) fn new_material(
    v: &mut Violations,
    given: Option<&pb::Material>,
) -> Option<NewMaterial> {
    let Some(m) = given else {
        v.add("material", "required");
        return None;
    };
    Some(NewMaterial {
        name: required_text(v, &m.name, "material.name", MAX_NAME),
        unit: required_text(v, &m.unit, "material.unit", MAX_UNIT),
    })
}

/// The fields UpdateMaterial writes.
pub(super) const MATERIAL_UPDATABLE: Updatable =
    Updatable::new(&["name", "unit"]).with_hints(&[("active", "use DeactivateMaterial")]);

/// The changes `mask` selects from `m`, each checked like on create.
pub(super) fn material_patch(v: &mut Violations, m: &pb::Material, mask: &Mask) -> MaterialPatch {
    MaterialPatch {
        name: mask
            .has("name")
            .then(|| required_text(v, &m.name, "material.name", MAX_NAME)),
        unit: mask
            .has("unit")
            .then(|| required_text(v, &m.unit, "material.unit", MAX_UNIT)),
    }
}

/// A typo in an [`Updatable`] would make a path silently unwritable.
#[cfg(test)]
#[test]
fn every_updatable_path_is_a_field_of_the_contract() {
    assert!(
        MEDICINE_UPDATABLE
            .undeclared_in::<pb::Medicine>()
            .is_empty()
    );
    assert!(
        MATERIAL_UPDATABLE
            .undeclared_in::<pb::Material>()
            .is_empty()
    );
}

/// A cabinet's code, normalised.
pub(super) fn dispenser_code(
    v: &mut Violations,
    value: &str,
    field: &str,
) -> Option<DispenserCode> {
    DispenserCode::try_from(value)
        .map_err(|problem| v.add(field, problem))
        .ok()
}

/// A pocket's code, normalised.
pub(super) fn pocket_code(v: &mut Violations, value: &str, field: &str) -> Option<PocketCode> {
    PocketCode::try_from(value)
        .map_err(|problem| v.add(field, problem))
        .ok()
}

fn building(v: &mut Violations, value: &str) -> String {
    required_text(v, value, "dispenser.location.building", 100)
}
fn floor(v: &mut Violations, value: &str) -> String {
    required_text(v, value, "dispenser.location.floor", 20)
}
fn ward(v: &mut Violations, value: &str) -> String {
    required_text(v, value, "dispenser.location.ward", 100)
}
fn room(v: &mut Violations, value: &str) -> String {
    optional_text(v, value, "dispenser.location.room", 50)
}

/// A cabinet to create; `None` only when a violation was recorded.
pub(super) fn new_dispenser(
    v: &mut Violations,
    given: Option<&pb::Dispenser>,
) -> Option<NewDispenser> {
    let Some(d) = given else {
        v.add("dispenser", "required");
        return None;
    };
    let code = dispenser_code(v, &d.code, "dispenser.code");
    let name = required_text(v, &d.name, "dispenser.name", MAX_NAME);
    let Some(l) = d.location.as_ref() else {
        v.add("dispenser.location", "required");
        return None;
    };
    let location = Location {
        building: building(v, &l.building),
        floor: floor(v, &l.floor),
        ward: ward(v, &l.ward),
        room: room(v, &l.room),
    };
    Some(NewDispenser {
        code: code?,
        name,
        location,
    })
}

/// A status named in a request: one of the three, never unspecified.
pub(super) fn dispenser_status(
    v: &mut Violations,
    value: i32,
    field: &str,
) -> Option<DispenserStatus> {
    match pb::DispenserStatus::try_from(value) {
        Ok(pb::DispenserStatus::Active) => Some(DispenserStatus::Active),
        Ok(pb::DispenserStatus::Maintenance) => Some(DispenserStatus::Maintenance),
        Ok(pb::DispenserStatus::Retired) => Some(DispenserStatus::Retired),
        Ok(pb::DispenserStatus::Unspecified) => {
            v.add(field, "required");
            None
        }
        Err(_) => {
            v.add(field, "not a dispenser status");
            None
        }
    }
}

/// An optional status filter (unspecified: any).
pub(super) fn status_filter(v: &mut Violations, value: i32) -> Option<DispenserStatus> {
    if value == pb::DispenserStatus::Unspecified as i32 {
        None
    } else {
        dispenser_status(v, value, "status")
    }
}

/// The fields UpdateDispenser writes: each location part on its own
/// (`location` names them all).
pub(super) const DISPENSER_UPDATABLE: Updatable = Updatable::new(&[
    "name",
    "location.building",
    "location.floor",
    "location.ward",
    "location.room",
    "status",
])
.with_hints(&[
    (
        "code",
        "a code is printed on labels: register a new dispenser instead",
    ),
    ("pockets", "use SetPocket"),
]);

/// The changes `mask` selects from `d`, each checked like on create.
pub(super) fn dispenser_patch(
    v: &mut Violations,
    d: &pb::Dispenser,
    mask: &Mask,
) -> DispenserPatch {
    let l = d.location.clone().unwrap_or_default();
    let has = |path: &str| mask.has(path);
    DispenserPatch {
        name: has("name").then(|| required_text(v, &d.name, "dispenser.name", MAX_NAME)),
        building: has("location.building").then(|| building(v, &l.building)),
        floor: has("location.floor").then(|| floor(v, &l.floor)),
        ward: has("location.ward").then(|| ward(v, &l.ward)),
        room: has("location.room").then(|| room(v, &l.room)),
        status: has("status")
            .then(|| dispenser_status(v, d.status, "dispenser.status"))
            .flatten(),
    }
}

/// A movement kind named in a request.
pub(super) fn movement_kind(v: &mut Violations, value: i32) -> Option<MovementKind> {
    match pb::MovementKind::try_from(value) {
        Ok(pb::MovementKind::Restock) => Some(MovementKind::Restock),
        Ok(pb::MovementKind::Dispense) => Some(MovementKind::Dispense),
        Ok(pb::MovementKind::Return) => Some(MovementKind::Return),
        Ok(pb::MovementKind::Adjust) => Some(MovementKind::Adjust),
        Ok(pb::MovementKind::Unspecified) => {
            v.add("kind", "required");
            None
        }
        Err(_) => {
            v.add("kind", "not a movement kind");
            None
        }
    }
}

/// A movement's quantity for `kind` (checked only when the kind is known).
pub(super) fn movement_quantity(
    v: &mut Violations,
    kind: Option<MovementKind>,
    quantity: i64,
) -> Option<MovementQuantity> {
    let kind = kind?;
    MovementQuantity::parse(kind, quantity)
        .map_err(|problem| v.add("quantity", problem))
        .ok()
}

/// A pocket's minimum level.
pub(super) fn minimum(v: &mut Violations, value: i64) -> i64 {
    if let Some(problem) = stock::minimum_problem(value) {
        v.add("minimum", problem);
    }
    value
}

#[cfg(test)]
#[test]
fn the_dispenser_paths_are_fields_of_the_contract() {
    assert!(
        DISPENSER_UPDATABLE
            .undeclared_in::<pb::Dispenser>()
            .is_empty()
    );
}
