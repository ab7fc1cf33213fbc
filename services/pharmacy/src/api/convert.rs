//! Rows → proto messages.

use malha_kit::time::to_proto as timestamp;

use crate::domain::{DispenserStatus, ItemKind, MovementKind, qr};
use crate::store::catalog::{Item, MaterialRow, MedicineRow};
use crate::store::dispensers::{Dispenser, Location, Pocket};
use crate::store::stock::Movement;
use malha_api::malha::pharmacy::v1 as pb;

pub(super) fn medicine(row: MedicineRow) -> pb::Medicine {
    pb::Medicine {
        id: row.id.to_string(),
        name: row.name,
        active_ingredient: row.active_ingredient,
        strength: row.strength,
        dosage_form: row.dosage_form,
        unit: row.unit,
        controlled: row.controlled,
        active: row.active,
        create_time: timestamp(row.created_at),
        update_time: timestamp(row.updated_at),
    }
}

pub(super) fn material(row: MaterialRow) -> pb::Material {
    pb::Material {
        id: row.id.to_string(),
        name: row.name,
        unit: row.unit,
        active: row.active,
        create_time: timestamp(row.created_at),
        update_time: timestamp(row.updated_at),
    }
}

pub(crate) fn item_kind(kind: ItemKind) -> pb::ItemKind {
    match kind {
        ItemKind::Medicine => pb::ItemKind::Medicine,
        ItemKind::Material => pb::ItemKind::Material,
    }
}

pub(crate) fn item(item: Item) -> pb::Item {
    pb::Item {
        id: item.id.to_string(),
        kind: item_kind(item.kind).into(),
        name: item.name,
        unit: item.unit,
        controlled: item.controlled,
        active: item.active,
    }
}

pub(crate) fn location(location: Location) -> pb::Location {
    pb::Location {
        building: location.building,
        floor: location.floor,
        ward: location.ward,
        room: location.room,
    }
}

pub(crate) fn status(status: DispenserStatus) -> pb::DispenserStatus {
    match status {
        DispenserStatus::Active => pb::DispenserStatus::Active,
        DispenserStatus::Maintenance => pb::DispenserStatus::Maintenance,
        DispenserStatus::Retired => pb::DispenserStatus::Retired,
    }
}

pub(crate) fn pocket(pocket: Pocket) -> pb::Pocket {
    pb::Pocket {
        pocket: pocket.pocket,
        item: Some(item(pocket.item)),
        quantity: pocket.quantity,
        minimum: pocket.minimum,
    }
}

/// A cabinet with its pockets and the URL its QR code carries.
pub(crate) fn dispenser(
    dispenser: Dispenser,
    pockets: Vec<Pocket>,
    qr_base: &str,
) -> pb::Dispenser {
    pb::Dispenser {
        qr_url: qr::payload(qr_base, dispenser.id),
        id: dispenser.id.to_string(),
        code: dispenser.code,
        name: dispenser.name,
        location: Some(location(dispenser.location)),
        status: status(dispenser.status).into(),
        pockets: pockets.into_iter().map(pocket).collect(),
        create_time: timestamp(dispenser.created_at),
        update_time: timestamp(dispenser.updated_at),
    }
}

pub(crate) fn movement_kind(kind: MovementKind) -> pb::MovementKind {
    match kind {
        MovementKind::Restock => pb::MovementKind::Restock,
        MovementKind::Dispense => pb::MovementKind::Dispense,
        MovementKind::Return => pb::MovementKind::Return,
        MovementKind::Adjust => pb::MovementKind::Adjust,
    }
}

pub(crate) fn movement(movement: Movement) -> pb::Movement {
    pb::Movement {
        id: movement.id.to_string(),
        dispenser_id: movement.dispenser_id.to_string(),
        pocket: movement.pocket,
        item: Some(item(movement.item)),
        kind: movement_kind(movement.kind).into(),
        quantity: movement.quantity,
        delta: movement.delta,
        balance: movement.balance,
        reason: movement.reason,
        actor: movement.actor,
        care_request_id: movement
            .care_request_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        create_time: timestamp(movement.created_at),
    }
}
