//! Issuing, reading and calling tickets, every move of an attendance, and
//! routing a patient on to another service.

use chrono::Utc;

use super::convert::{self, CpfView};
use super::parse;
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
    view: CpfView,
    request: IssueTicketRequest,
) -> ServiceResult<IssueTicketResponse> {
    let mut v = Violations::new();
    let unit_id = v.uuid(&request.unit_id, "unit_id");
    let service_id = v.uuid(&request.service_id, "service_id");
    let priority = parse::priority(&mut v, request.priority, "priority");
    let cpf = parse::optional_cpf(&mut v, &request.cpf, "cpf");
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
        cpf,
    };
    let response = key
        .once(&queue.pool, async |tx| {
            let id = store::tickets::issue(tx, new, owner.as_str(), Utc::now()).await?;
            let row = store::tickets::get(&mut *tx, id).await?;
            events::issued(tx, &convert::ticket(row.clone(), CpfView::Masked)?).await?;
            Ok(IssueTicketResponse {
                people_ahead: store::tickets::people_ahead(&mut *tx, id).await?,
                ticket: Some(convert::ticket(row, view)?),
            })
        })
        .await?;
    queue.changed(unit_id, false);
    Ok(response)
}

pub(super) async fn get(
    queue: &Queue,
    view: CpfView,
    request: GetTicketRequest,
) -> ServiceResult<GetTicketResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.ticket_id, "ticket_id");
    v.finish()?;
    Ok(GetTicketResponse {
        ticket: Some(convert::ticket(
            store::tickets::get(&queue.pool, id).await?,
            view,
        )?),
    })
}

pub(super) async fn call_next(
    queue: &Queue,
    owner: &Owner,
    view: CpfView,
    request: CallNextRequest,
) -> ServiceResult<CallNextResponse> {
    let mut v = Violations::new();
    let desk_id = v.uuid(&request.desk_id, "desk_id");
    v.finish()?;
    let now = Utc::now();
    let mut unit = None;
    let mut tx = queue.pool.begin().await?;
    let called = store::tickets::call_next(&mut tx, desk_id, owner.as_str(), now).await?;
    let ticket = match called {
        Some(id) => {
            let row = store::tickets::get(&mut *tx, id).await?;
            unit = Some(row.unit_id);
            let desk = store::desks::get(&mut *tx, desk_id).await?;
            let masked = convert::ticket(row.clone(), CpfView::Masked)?;
            events::called(&mut tx, &masked, desk.name, false).await?;
            store::panel::record(&mut tx, id, desk_id, false, now).await?;
            Some(convert::ticket(row, view)?)
        }
        None => None,
    };
    tx.commit().await?;
    if let Some(unit) = unit {
        queue.changed(unit, true);
    }
    Ok(CallNextResponse { ticket })
}

/// Applies `action` to the ticket named `ticket_id` and returns it as it is
/// now.
pub(super) async fn apply(
    queue: &Queue,
    owner: &Owner,
    view: CpfView,
    ticket_id: &str,
    action: Move,
) -> ServiceResult<Ticket> {
    let mut v = Violations::new();
    let id = v.uuid(ticket_id, "ticket_id");
    v.finish()?;
    let now = Utc::now();
    let mut tx = queue.pool.begin().await?;
    store::tickets::apply(&mut tx, id, action, owner.as_str(), now).await?;
    let row = store::tickets::get(&mut *tx, id).await?;
    let desk_id = row.desk_id;
    let masked = convert::ticket(row.clone(), CpfView::Masked)?;
    match (action, desk_id) {
        (Move::Recall, Some(desk_id)) => {
            let desk = store::desks::get(&mut *tx, desk_id).await?;
            events::called(&mut tx, &masked, desk.name, true).await?;
            store::panel::record(&mut tx, id, desk_id, true, now).await?;
        }
        (Move::Finish, _) => events::finished(&mut tx, &masked).await?,
        _ => {}
    }
    tx.commit().await?;
    queue.changed(row.unit_id, action == Move::Recall);
    convert::ticket(row, view)
}

pub(super) async fn route(
    queue: &Queue,
    owner: &Owner,
    view: CpfView,
    request: RouteTicketRequest,
) -> ServiceResult<RouteTicketResponse> {
    let mut v = Violations::new();
    let parent_id = v.uuid(&request.ticket_id, "ticket_id");
    let to_service_id = v.uuid(&request.to_service_id, "to_service_id");
    let key = Key::new(
        owner,
        "RouteTicket",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let response: RouteTicketResponse = key
        .once(&queue.pool, async |tx| {
            let id = store::tickets::route(
                tx,
                parent_id,
                to_service_id,
                request.to_front,
                owner.as_str(),
                Utc::now(),
            )
            .await?;
            let row = store::tickets::get(&mut *tx, id).await?;
            events::issued(tx, &convert::ticket(row.clone(), CpfView::Masked)?).await?;
            Ok(RouteTicketResponse {
                ticket: Some(convert::ticket(row, view)?),
            })
        })
        .await?;
    if let Some(unit) = response
        .ticket
        .as_ref()
        .and_then(|t| t.unit_id.parse().ok())
    {
        queue.changed(unit, false);
    }
    Ok(response)
}

pub(super) async fn journey(
    queue: &Queue,
    view: CpfView,
    request: GetTicketJourneyRequest,
) -> ServiceResult<GetTicketJourneyResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.ticket_id, "ticket_id");
    v.finish()?;
    let route = store::tickets::route_of(&queue.pool, id).await?;
    let ids: Vec<_> = route.iter().map(|t| t.id).collect();
    let steps = store::tickets::steps(&queue.pool, &ids).await?;
    let ticket = route
        .iter()
        .find(|t| t.id == id)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the route of ticket {id} lost it"))?;
    Ok(GetTicketJourneyResponse {
        ticket: Some(convert::ticket(ticket, view)?),
        steps: steps
            .into_iter()
            .map(convert::step)
            .collect::<ServiceResult<_>>()?,
        route: route
            .into_iter()
            .map(|t| convert::ticket(t, view))
            .collect::<ServiceResult<_>>()?,
    })
}

/// A unit's stats as kept in memory (kit `hot`): good while the unit's
/// local day is the one they were computed for.
#[derive(Debug, Clone)]
pub struct CachedStats {
    time_zone: TimeZone,
    local_date: chrono::NaiveDate,
    response: GetQueueStatsResponse,
}

pub(super) async fn stats(
    queue: &Queue,
    request: GetQueueStatsRequest,
) -> ServiceResult<GetQueueStatsResponse> {
    let mut v = Violations::new();
    let unit_id = v.uuid(&request.unit_id, "unit_id");
    v.finish()?;
    let now = Utc::now();
    let cached = queue
        .stats_cache
        .get_or_load(
            &unit_id.to_string(),
            |c| c.time_zone.local_date(now) == c.local_date,
            || async {
                let unit = store::units::get(&queue.pool, unit_id).await?;
                let time_zone = TimeZone::parse(&unit.time_zone)
                    .map_err(|e| anyhow::anyhow!("stored unit time zone: {e}"))?;
                let today = time_zone.local_date(now);
                let rows = store::tickets::stats(&queue.pool, unit_id, today).await?;
                Ok(CachedStats {
                    time_zone,
                    local_date: today,
                    response: GetQueueStatsResponse {
                        local_date: today.to_string(),
                        services: rows.into_iter().map(convert::stats).collect(),
                    },
                })
            },
        )
        .await?;
    Ok(cached.response)
}
