//! Proto → domain: every field of a request checked against its rule, every
//! violation named by its path (`request.ward`, `request.items[2].quantity`),
//! text trimmed, enums read without a silent default.

use uuid::Uuid;

use crate::domain::request::{BED_MAX, ITEMS_MAX, NOTE_MAX, QUANTITY_RANGE, REASON_MAX, WARD_MAX};
use crate::domain::{Priority, RequestKind, Status};
use crate::store::requests::Filter;
use malha_api::malha::care::v1 as pb;
use malha_kit::stored::StoredName;
use malha_kit::validate::Violations;

/// A new request as the caller described it (items not yet checked against
/// pharmacy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NewRequest {
    pub kind: RequestKind,
    pub priority: Priority,
    pub ward: String,
    pub bed: String,
    pub note: String,
    /// (item id, quantity), in the caller's order.
    pub lines: Vec<(Uuid, i64)>,
}

/// A request kind; `None` (recorded) when unspecified or unknown.
fn kind(v: &mut Violations, value: i32, field: &str) -> Option<RequestKind> {
    match pb::RequestKind::try_from(value) {
        Ok(pb::RequestKind::Medicine) => Some(RequestKind::Medicine),
        Ok(pb::RequestKind::Material) => Some(RequestKind::Material),
        Ok(pb::RequestKind::Assistance) => Some(RequestKind::Assistance),
        _ => {
            v.add(field, "required: MEDICINE, MATERIAL or ASSISTANCE");
            None
        }
    }
}

/// A status; `Ok(None)` when unspecified, `Err(())` (recorded) when unknown.
fn status(value: i32) -> Result<Option<Status>, ()> {
    match pb::RequestStatus::try_from(value) {
        Ok(pb::RequestStatus::Unspecified) => Ok(None),
        Ok(pb::RequestStatus::Requested) => Ok(Some(Status::Requested)),
        Ok(pb::RequestStatus::Accepted) => Ok(Some(Status::Accepted)),
        Ok(pb::RequestStatus::InProgress) => Ok(Some(Status::InProgress)),
        Ok(pb::RequestStatus::Completed) => Ok(Some(Status::Completed)),
        Ok(pb::RequestStatus::Rejected) => Ok(Some(Status::Rejected)),
        Ok(pb::RequestStatus::Cancelled) => Ok(Some(Status::Cancelled)),
        Err(_) => Err(()),
    }
}

fn trimmed(v: &mut Violations, value: &str, field: &str, max: usize, required: bool) -> String {
    let value = value.trim();
    if required && value.is_empty() {
        v.add(field, "required");
    } else if value.chars().count() > max {
        v.add(field, format!("at most {max} characters"));
    }
    value.to_owned()
}

/// The `request` of a CreateRequest; `None` when something is wrong (every
/// problem recorded in `v`).
pub(super) fn new_request(
    v: &mut Violations,
    request: Option<&pb::CareRequest>,
) -> Option<NewRequest> {
    let Some(request) = request else {
        v.add("request", "required");
        return None;
    };
    let kind = kind(v, request.kind, "request.kind");
    let priority = match pb::Priority::try_from(request.priority) {
        Ok(pb::Priority::Routine) => Some(Priority::Routine),
        Ok(pb::Priority::Urgent) => Some(Priority::Urgent),
        Ok(pb::Priority::Emergency) => Some(Priority::Emergency),
        _ => {
            v.add("request.priority", "required: ROUTINE, URGENT or EMERGENCY");
            None
        }
    };
    let ward = trimmed(v, &request.ward, "request.ward", WARD_MAX, true);
    let bed = trimmed(v, &request.bed, "request.bed", BED_MAX, true);
    let note = trimmed(v, &request.note, "request.note", NOTE_MAX, false);
    let mut lines = Vec::with_capacity(request.items.len());
    match kind {
        Some(RequestKind::Assistance) if !request.items.is_empty() => {
            v.add("request.items", "an assistance request carries no items");
        }
        Some(RequestKind::Medicine | RequestKind::Material) if request.items.is_empty() => {
            v.add(
                "request.items",
                "a medicine or material request names 1 to 50 items",
            );
        }
        Some(RequestKind::Medicine | RequestKind::Material) if request.items.len() > ITEMS_MAX => {
            v.add("request.items", "at most 50 items");
        }
        _ => {
            for (i, item) in request.items.iter().enumerate() {
                let id = v.uuid(&item.item_id, &format!("request.items[{i}].item_id"));
                if !QUANTITY_RANGE.contains(&item.quantity) {
                    v.add(format!("request.items[{i}].quantity"), "1 to 10000");
                }
                lines.push((id, item.quantity));
            }
        }
    }
    Some(NewRequest {
        kind: kind?,
        priority: priority?,
        ward,
        bed,
        note,
        lines,
    })
}

/// The filters of ListRequests and WatchRequests (an empty ward, an
/// unspecified kind or status: any).
pub(super) fn filter(v: &mut Violations, ward: &str, kind: i32, status_value: i32) -> Filter {
    let ward = ward.trim();
    if ward.chars().count() > WARD_MAX {
        v.add("ward", format!("at most {WARD_MAX} characters"));
    }
    let kind = match pb::RequestKind::try_from(kind) {
        Ok(pb::RequestKind::Unspecified) => None,
        Ok(pb::RequestKind::Medicine) => Some(RequestKind::Medicine),
        Ok(pb::RequestKind::Material) => Some(RequestKind::Material),
        Ok(pb::RequestKind::Assistance) => Some(RequestKind::Assistance),
        Err(_) => {
            v.add("kind", "not a request kind");
            None
        }
    };
    let status = status(status_value).unwrap_or_else(|()| {
        v.add("status", "not a request status");
        None
    });
    Filter {
        ward: (!ward.is_empty()).then(|| ward.to_owned()),
        kind: kind.map(StoredName::as_str),
        status: status.map(StoredName::as_str),
    }
}

/// A TransitionRequest's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Move {
    pub id: Uuid,
    pub to: Status,
    pub reason: String,
    pub dispenser_id: Option<Uuid>,
}

pub(super) fn transition(
    v: &mut Violations,
    request: &pb::TransitionRequestRequest,
) -> Option<Move> {
    let id = v.uuid(&request.care_request_id, "care_request_id");
    let to = match status(request.to) {
        Ok(Some(Status::Requested)) | Ok(None) | Err(()) => {
            v.add(
                "to",
                "ACCEPTED, IN_PROGRESS, COMPLETED, REJECTED or CANCELLED",
            );
            None
        }
        Ok(Some(to)) => Some(to),
    };
    let reason = trimmed(v, &request.reason, "reason", REASON_MAX, false);
    let dispenser_id = v.optional_uuid(&request.dispenser_id, "dispenser_id");
    Some(Move {
        id,
        to: to?,
        reason,
        dispenser_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: Violations) -> Vec<String> {
        match v.finish() {
            Ok(()) => Vec::new(),
            Err(malha_kit::ServiceError::InvalidArgument(violations)) => {
                violations.into_iter().map(|v| v.field).collect()
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_bad_field_of_a_new_request_is_named() {
        let request = pb::CareRequest {
            kind: pb::RequestKind::Medicine as i32,
            priority: 9,
            ward: "  ".into(),
            bed: "b".repeat(21),
            note: "n".repeat(1001),
            items: vec![
                pb::RequestItem {
                    item_id: "nope".into(),
                    quantity: 1,
                    ..Default::default()
                },
                pb::RequestItem {
                    item_id: Uuid::now_v7().to_string(),
                    quantity: 0,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let mut v = Violations::new();
        assert_eq!(new_request(&mut v, Some(&request)), None);
        assert_eq!(
            fields(v),
            [
                "request.priority",
                "request.ward",
                "request.bed",
                "request.note",
                "request.items[0].item_id",
                "request.items[1].quantity",
            ]
        );
    }

    #[test]
    fn items_follow_the_kind() {
        let item = pb::RequestItem {
            item_id: Uuid::now_v7().to_string(),
            quantity: 2,
            ..Default::default()
        };
        let base = pb::CareRequest {
            priority: pb::Priority::Urgent as i32,
            ward: " UTI 2 ".into(),
            bed: "12".into(),
            ..Default::default()
        };
        let assistance = pb::CareRequest {
            kind: pb::RequestKind::Assistance as i32,
            items: vec![item.clone()],
            ..base.clone()
        };
        let mut v = Violations::new();
        new_request(&mut v, Some(&assistance));
        assert_eq!(fields(v), ["request.items"]);

        let empty = pb::CareRequest {
            kind: pb::RequestKind::Material as i32,
            ..base.clone()
        };
        let mut v = Violations::new();
        new_request(&mut v, Some(&empty));
        assert_eq!(fields(v), ["request.items"]);

        let good = pb::CareRequest {
            kind: pb::RequestKind::Material as i32,
            items: vec![item],
            ..base
        };
        let mut v = Violations::new();
        let parsed = new_request(&mut v, Some(&good)).unwrap();
        assert!(fields(v).is_empty());
        assert_eq!(parsed.ward, "UTI 2", "trimmed");
        assert_eq!(parsed.lines.len(), 1);
    }

    #[test]
    fn a_transition_names_a_target_status_and_well_formed_ids() {
        let mut v = Violations::new();
        let parsed = transition(
            &mut v,
            &pb::TransitionRequestRequest {
                care_request_id: "x".into(),
                to: pb::RequestStatus::Requested as i32,
                reason: String::new(),
                dispenser_id: "cabinet".into(),
            },
        );
        assert_eq!(parsed, None);
        assert_eq!(fields(v), ["care_request_id", "to", "dispenser_id"]);
    }

    #[test]
    fn unknown_filter_values_are_refused_and_empty_ones_mean_any() {
        let mut v = Violations::new();
        let any = filter(&mut v, " ", 0, 0);
        assert!(any.ward.is_none() && any.kind.is_none() && any.status.is_none());
        let _ = filter(&mut v, "w", 42, 42);
        assert_eq!(fields(v), ["kind", "status"]);
    }
}
