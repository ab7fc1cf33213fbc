//! Issuing, reading and calling tickets, and every move of an attendance.

use chrono::Utc;

use super::{convert, parse};
use crate::domain::{Move, TimeZone};
use crate::store;
use crate::store::tickets::NewTicket;
use crate::{Queue, events};
use malha_api::malha::queue::v1::*;
use malha_kit::ServiceResult;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::validate::Violations;

pub(super) async fn issue(
    queue: &Queue,
    owner: &Owner,
    request: IssueTicketRequest,
) -> ServiceResult<IssueTicketResponse> {
    let mut v = Violations::new();
    let unit_id = v.uuid(&request.unit_id, "unit_id");
    let service_id = v.uuid(&request.service_id, "service_id");
    let priority = parse::priority(&mut v, request.priority, "priority");
    let key = Key::new(
        owner,
        "IssueTicket",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let new = NewTicket {
        unit_id,
        service_id,
        priority: priority
            .ok_or_else(|| malha_kit::ServiceError::invalid("priority", "required"))?,
    };
    key.once(&queue.pool, async |tx| {
        let id = store::tickets::issue(tx, new, owner.as_str(), Utc::now()).await?;
        let ticket = convert::ticket(store::tickets::get(&mut *tx, id).await?)?;
        events::issued(tx, &ticket).await?;
        Ok(IssueTicketResponse {
            people_ahead: store::tickets::people_ahead(&mut *tx, id).await?,
            ticket: Some(ticket),
        })
    })
    .await
}

pub(super) async fn get(
    queue: &Queue,
    request: GetTicketRequest,
) -> ServiceResult<GetTicketResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.ticket_id, "ticket_id");
    v.finish()?;
    Ok(GetTicketResponse {
        ticket: Some(convert::ticket(
            store::tickets::get(&queue.pool, id).await?,
        )?),
    })
}

pub(super) async fn call_next(
    queue: &Queue,
    owner: &Owner,
    request: CallNextRequest,
) -> ServiceResult<CallNextResponse> {
    let mut v = Violations::new();
    let desk_id = v.uuid(&request.desk_id, "desk_id");
    v.finish()?;
    let mut tx = queue.pool.begin().await?;
    let called = store::tickets::call_next(&mut tx, desk_id, owner.as_str(), Utc::now()).await?;
    let ticket = match called {
        Some(id) => {
            let ticket = convert::ticket(store::tickets::get(&mut *tx, id).await?)?;
            let desk = store::desks::get(&mut *tx, desk_id).await?;
            events::called(&mut tx, &ticket, desk.name, false).await?;
            Some(ticket)
        }
        None => None,
    };
    tx.commit().await?;
    Ok(CallNextResponse { ticket })
}

/// Applies `action` to the ticket named `ticket_id` and returns it as it is
/// now.
pub(super) async fn apply(
    queue: &Queue,
    owner: &Owner,
    ticket_id: &str,
    action: Move,
) -> ServiceResult<Ticket> {
    let mut v = Violations::new();
    let id = v.uuid(ticket_id, "ticket_id");
    v.finish()?;
    let mut tx = queue.pool.begin().await?;
    store::tickets::apply(&mut tx, id, action, owner.as_str(), Utc::now()).await?;
    let row = store::tickets::get(&mut *tx, id).await?;
    let desk_id = row.desk_id;
    let ticket = convert::ticket(row)?;
    match (action, desk_id) {
        (Move::Recall, Some(desk_id)) => {
            let desk = store::desks::get(&mut *tx, desk_id).await?;
            events::called(&mut tx, &ticket, desk.name, true).await?;
        }
        (Move::Finish, _) => events::finished(&mut tx, &ticket).await?,
        _ => {}
    }
    tx.commit().await?;
    Ok(ticket)
}

pub(super) async fn journey(
    queue: &Queue,
    request: GetTicketJourneyRequest,
) -> ServiceResult<GetTicketJourneyResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.ticket_id, "ticket_id");
    v.finish()?;
    let ticket = store::tickets::get(&queue.pool, id).await?;
    let steps = store::tickets::steps(&queue.pool, id).await?;
    Ok(GetTicketJourneyResponse {
        ticket: Some(convert::ticket(ticket)?),
        steps: steps
            .into_iter()
            .map(convert::step)
            .collect::<ServiceResult<_>>()?,
    })
}

pub(super) async fn stats(
    queue: &Queue,
    request: GetQueueStatsRequest,
) -> ServiceResult<GetQueueStatsResponse> {
    let mut v = Violations::new();
    let unit_id = v.uuid(&request.unit_id, "unit_id");
    v.finish()?;
    let unit = store::units::get(&queue.pool, unit_id).await?;
    let time_zone = TimeZone::parse(&unit.time_zone)
        .map_err(|e| anyhow::anyhow!("stored unit time zone: {e}"))?;
    let today = time_zone.local_date(Utc::now());
    let rows = store::tickets::stats(&queue.pool, unit_id, today).await?;
    Ok(GetQueueStatsResponse {
        local_date: today.to_string(),
        services: rows.into_iter().map(convert::stats).collect(),
    })
}
