//! Stock at the cabinets: recording a movement (idempotent), a cabinet's
//! ledger, "where is item X", and the check of the controlled-substance
//! audit trail.

use super::{convert, page, parse};
use crate::Pharmacy;
use crate::domain::audit::{Broken, ChainCheck};
use crate::domain::catalog::MAX_REASON;
use crate::domain::find::{self, Holding};
use crate::store::{self, stock::NewMovement};
use malha_api::malha::pharmacy::v1::*;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

pub(super) async fn record(
    pharmacy: &Pharmacy,
    owner: &Owner,
    request: RecordMovementRequest,
) -> ServiceResult<RecordMovementResponse> {
    let mut v = Violations::new();
    let dispenser_id = v.uuid(&request.dispenser_id, "dispenser_id");
    let code = parse::pocket_code(&mut v, &request.pocket, "pocket");
    let kind = parse::movement_kind(&mut v, request.kind);
    let quantity = parse::movement_quantity(&mut v, kind, request.quantity);
    let reason = parse::required_text(&mut v, &request.reason, "reason", MAX_REASON);
    let key = Key::new(
        owner,
        "RecordMovement",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let (Some(code), Some(kind), Some(quantity)) = (code, kind, quantity) else {
        return Err(ServiceError::invalid("quantity", "required"));
    };
    key.once(&pharmacy.pool, async |tx| {
        let dispenser = store::dispensers::lock_shared(tx, dispenser_id).await?;
        let pocket = store::stock::lock_existing_pocket(tx, dispenser_id, &code).await?;
        let new = NewMovement {
            kind,
            quantity,
            reason: &reason,
            actor: owner.as_str(),
            care_request_id: None,
            source_key: None,
        };
        let movement = store::stock::record(tx, &dispenser, &pocket, &new).await??;
        Ok(RecordMovementResponse {
            movement: Some(convert::movement(movement)),
        })
    })
    .await
}

pub(super) async fn list(
    pharmacy: &Pharmacy,
    request: ListMovementsRequest,
) -> ServiceResult<ListMovementsResponse> {
    let mut v = Violations::new();
    let dispenser_id = v.uuid(&request.dispenser_id, "dispenser_id");
    let page = page(&mut v, request.page_size, &request.page_token);
    v.finish()?;
    let mut db = pharmacy.pool.acquire().await?;
    // NOT_FOUND for an unknown cabinet rather than an empty ledger.
    store::dispensers::get(&mut *db, dispenser_id).await?;
    let rows = store::stock::list(&mut *db, dispenser_id, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |m| m.id.to_string());
    Ok(ListMovementsResponse {
        movements: rows.into_iter().map(convert::movement).collect(),
        next_page_token,
    })
}

pub(super) async fn find_item(
    pharmacy: &Pharmacy,
    request: FindItemRequest,
) -> ServiceResult<FindItemResponse> {
    let mut v = Violations::new();
    let item_id = v.uuid(&request.item_id, "item_id");
    let ward = parse::query(&mut v, &request.ward, "ward");
    v.finish()?;
    let mut db = pharmacy.pool.acquire().await?;
    let item = store::catalog::item(&mut *db, item_id).await?;
    let holdings = store::dispensers::holding(&mut *db, item_id)
        .await?
        .into_iter()
        .map(|h| Holding {
            ward: h.dispenser.location.ward.clone(),
            code: h.dispenser.code.clone(),
            quantity: h.quantity,
            row: h,
        })
        .collect();
    let locations = find::nearest_first(ward, holdings)
        .into_iter()
        .map(|(in_ward, h)| ItemLocation {
            dispenser_id: h.row.dispenser.id.to_string(),
            dispenser_code: h.row.dispenser.code,
            dispenser_name: h.row.dispenser.name,
            location: Some(convert::location(h.row.dispenser.location)),
            pocket: h.row.pocket,
            quantity: h.row.quantity,
            in_ward,
        })
        .collect();
    Ok(FindItemResponse {
        item: Some(convert::item(item)),
        locations,
    })
}

/// Entries read per round trip while verifying.
const WALK_BATCH: i64 = 500;

pub(super) async fn verify_audit(pharmacy: &Pharmacy) -> ServiceResult<VerifyAuditResponse> {
    // One snapshot: appends committed meanwhile neither count nor confuse the head.
    let mut tx = pharmacy.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let (head_sequence, head_hash) = store::stock::audit_head(&mut *tx).await?;
    let mut check = ChainCheck::new();
    let mut after = 0;
    loop {
        let entries = store::stock::audit_walk(&mut *tx, after, WALK_BATCH).await?;
        let Some(last) = entries.last() else { break };
        after = last.entry.sequence;
        for linked in &entries {
            if let Err(broken) = check.next(linked) {
                return Ok(report(broken, check.checked()));
            }
        }
    }
    if let Err(broken) = check.finish(head_sequence, &head_hash) {
        return Ok(report(broken, check.checked()));
    }
    tx.commit().await?;
    Ok(VerifyAuditResponse {
        valid: true,
        entries: check.checked(),
        first_broken_movement_id: String::new(),
        head_hash: hex::encode(&head_hash),
    })
}

fn report(broken: Broken, checked: i64) -> VerifyAuditResponse {
    tracing::error!(sequence = broken.sequence, problem = %broken.problem, "the controlled-substance audit trail is broken");
    VerifyAuditResponse {
        valid: false,
        entries: checked,
        first_broken_movement_id: broken.id.map(|id| id.to_string()).unwrap_or_default(),
        head_hash: String::new(),
    }
}
