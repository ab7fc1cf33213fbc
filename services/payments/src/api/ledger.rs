//! Reading and verifying the transaction log.

use super::convert;
use crate::Payments;
use crate::domain::ledger::{Broken, ChainCheck};
use crate::store::ledger;
use malha_api::malha::payments::v1::*;
use malha_kit::ServiceResult;
use malha_kit::page::PageRequest;
use malha_kit::validate::Violations;

/// Entries read per query while verifying.
const WALK_BATCH: i64 = 1000;

pub(super) async fn list(
    service: &Payments,
    request: ListTransactionsRequest,
) -> ServiceResult<ListTransactionsResponse> {
    let mut v = Violations::new();
    let payment_id = v.optional_uuid(&request.payment_id, "payment_id");
    v.finish()?;
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let rows = ledger::list(&service.pool, payment_id, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.sequence.to_string());
    Ok(ListTransactionsResponse {
        transactions: convert::transactions(rows),
        next_page_token,
    })
}

pub(super) async fn verify(service: &Payments) -> ServiceResult<VerifyLedgerResponse> {
    // One snapshot: appends committed meanwhile neither count nor confuse the head.
    let mut tx = service.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let (head_sequence, head_hash) = ledger::head(&mut *tx).await?;
    let mut check = ChainCheck::new();
    let mut after = 0;
    loop {
        let rows = ledger::walk(&mut *tx, after, WALK_BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.sequence;
        for row in rows {
            if let Err(broken) = check.next(&row.linked()) {
                return Ok(report(broken, check.checked()));
            }
        }
    }
    if let Err(broken) = check.finish(head_sequence, &head_hash) {
        return Ok(report(broken, check.checked()));
    }
    tx.commit().await?;
    Ok(VerifyLedgerResponse {
        intact: true,
        entries_checked: check.checked(),
        ..Default::default()
    })
}

fn report(broken: Broken, checked: i64) -> VerifyLedgerResponse {
    tracing::error!(sequence = broken.sequence, problem = %broken.problem, "the payments transaction log is broken");
    VerifyLedgerResponse {
        intact: false,
        entries_checked: checked,
        broken_sequence: broken.sequence,
        broken_transaction_id: broken.id.map(|id| id.to_string()).unwrap_or_default(),
        problem: broken.problem,
    }
}
