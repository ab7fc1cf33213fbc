//! Rows and domain values ↔ proto messages. Stored names are read with
//! `from_stored`: a value this build does not know is an error, never a
//! default.

use crate::domain::{Priority, RequestKind, Status};
use crate::store::changes::ChangeRow;
use crate::store::requests::RequestRow;
use malha_api::malha::care::v1 as pb;
use malha_kit::stored::{StoredName, UnknownStored};
use malha_kit::time::to_proto;

pub(crate) fn status(status: Status) -> pb::RequestStatus {
    match status {
        Status::Requested => pb::RequestStatus::Requested,
        Status::Accepted => pb::RequestStatus::Accepted,
        Status::InProgress => pb::RequestStatus::InProgress,
        Status::Completed => pb::RequestStatus::Completed,
        Status::Rejected => pb::RequestStatus::Rejected,
        Status::Cancelled => pb::RequestStatus::Cancelled,
    }
}

pub(crate) fn kind(kind: RequestKind) -> pb::RequestKind {
    match kind {
        RequestKind::Medicine => pb::RequestKind::Medicine,
        RequestKind::Material => pb::RequestKind::Material,
        RequestKind::Assistance => pb::RequestKind::Assistance,
    }
}

pub(crate) fn priority(priority: Priority) -> pb::Priority {
    match priority {
        Priority::Routine => pb::Priority::Routine,
        Priority::Urgent => pb::Priority::Urgent,
        Priority::Emergency => pb::Priority::Emergency,
    }
}

/// The stored request as the contract shows it.
pub(crate) fn request(row: &RequestRow) -> Result<pb::CareRequest, UnknownStored> {
    let items = (0..row.item_ids.len())
        .map(|i| pb::RequestItem {
            item_id: row.item_ids[i].to_string(),
            name: row.item_names[i].clone(),
            unit: row.item_units[i].clone(),
            quantity: row.item_quantities[i],
        })
        .collect();
    Ok(pb::CareRequest {
        id: row.id.to_string(),
        kind: kind(RequestKind::from_stored(&row.kind)?) as i32,
        priority: priority(Priority::from_stored(&row.priority)?) as i32,
        ward: row.ward.clone(),
        bed: row.bed.clone(),
        items,
        note: row.note.clone(),
        status: status(Status::from_stored(&row.status)?) as i32,
        requester_id: row.requester_id.clone(),
        requester_name: row.requester_name.clone(),
        requester_role: row.requester_role.clone(),
        dispenser_id: row.dispenser_id.map(|d| d.to_string()).unwrap_or_default(),
        reject_reason: row.reject_reason.clone(),
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    })
}

/// One history entry; the creation reads as UNSPECIFIED → REQUESTED.
pub(super) fn change(row: &ChangeRow) -> Result<pb::StatusChange, UnknownStored> {
    let from = row
        .from_status
        .as_deref()
        .map(Status::from_stored)
        .transpose()?
        .map_or(pb::RequestStatus::Unspecified, status);
    Ok(pb::StatusChange {
        from: from as i32,
        to: status(Status::from_stored(&row.to_status)?) as i32,
        actor: row.actor.clone(),
        reason: row.reason.clone(),
        time: to_proto(row.changed_at),
    })
}
