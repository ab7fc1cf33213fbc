//! Moving a request through its statuses (the domain's rule decides) and
//! reading its history.

use super::{actor, convert, parse};
use crate::Care;
use crate::domain::workflow::{self, Mover, Transition};
use crate::domain::{RequestKind, Status};
use crate::record::{self, What};
use crate::store::{changes, requests};
use malha_api::malha::care::v1::*;
use malha_kit::ServiceResult;
use malha_kit::auth::Principal;
use malha_kit::stored::StoredName;
use malha_kit::validate::Violations;

/// The caller as the workflow rule sees them, for a request asked by
/// `requester_id`.
fn mover(caller: &Principal, requester_id: &str) -> Mover {
    Mover {
        fulfils: crate::PERMISSIONS.allows(&caller.roles, "care.fulfil"),
        is_requester: caller.subject == requester_id,
        is_admin: caller.has_role("admin"),
    }
}

pub(super) async fn transition(
    service: &Care,
    request: TransitionRequestRequest,
    caller: &Principal,
) -> ServiceResult<TransitionRequestResponse> {
    let mut v = Violations::new();
    let parsed = parse::transition(&mut v, &request);
    v.finish()?;
    let Some(parsed) = parsed else {
        unreachable!("a transition without violations parses")
    };

    let mut tx = service.pool.begin().await?;
    let row = requests::get(&mut *tx, parsed.id, true).await?;
    let from = Status::from_stored(&row.status)?;
    let kind = RequestKind::from_stored(&row.kind)?;
    let to = workflow::check(
        kind,
        from,
        Transition {
            to: parsed.to,
            reason: &parsed.reason,
            dispenser_given: parsed.dispenser_id.is_some(),
        },
        mover(caller, &row.requester_id),
    )?;
    // Only a delivery names a cabinet; only a rejection keeps its reason on
    // the request (every reason is kept in the history).
    let completes_with_items = to == Status::Completed && kind.has_items();
    let moved = requests::set_status(
        &mut tx,
        row.id,
        &requests::Moved {
            status: to.as_str(),
            dispenser_id: parsed.dispenser_id.filter(|_| completes_with_items),
            reject_reason: if to == Status::Rejected {
                &parsed.reason
            } else {
                ""
            },
        },
    )
    .await?;
    let request = record::change(
        &mut tx,
        &moved,
        What::Moved { from },
        &actor(caller),
        &parsed.reason,
    )
    .await?;
    tx.commit().await?;
    Ok(TransitionRequestResponse {
        request: Some(request),
    })
}

pub(super) async fn history(
    service: &Care,
    request: ListRequestHistoryRequest,
) -> ServiceResult<ListRequestHistoryResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.care_request_id, "care_request_id");
    v.finish()?;
    // NOT_FOUND for an unknown request rather than an empty history.
    requests::get(&service.pool, id, false).await?;
    let rows = changes::history(&service.pool, id).await?;
    let changes = rows
        .iter()
        .map(convert::change)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ListRequestHistoryResponse { changes })
}
