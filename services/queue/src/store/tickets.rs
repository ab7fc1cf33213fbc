//! `tickets`, their daily counters and their steps. Issuing, calling and
//! every move run inside the caller's transaction, so a ticket's status and
//! the step that changed it commit together.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::{
    Class, FairnessRule, Letter, Move, Priority, Step, TicketCode, TicketStatus, TimeZone, route,
};
use malha_kit::cpf::Cpf;
use malha_kit::stored::StoredName;
use malha_kit::{ServiceError, ServiceResult};

/// The channel a trigger on `tickets` notifies with the unit id.
pub const CHANNEL: &str = "malha_queue_tickets";

/// A stored ticket.
#[derive(Debug, Clone, FromRow)]
pub struct TicketRow {
    pub id: Uuid,
    pub unit_id: Uuid,
    pub service_id: Uuid,
    pub code: String,
    pub local_date: NaiveDate,
    pub priority: String,
    pub status: String,
    pub desk_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub called_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub parent_id: Option<Uuid>,
    /// Eleven digits, checked when issued.
    pub cpf: Option<String>,
    pub to_front: bool,
}

const SELECT: &str = "SELECT id, unit_id, service_id, code, local_date, priority, status,
        desk_id, created_at, called_at, started_at, finished_at, parent_id, cpf, to_front
   FROM tickets";

fn not_found() -> ServiceError {
    ServiceError::NotFound { resource: "ticket" }
}

/// What issuing needs to know about a service of a unit.
#[derive(Debug, Clone, FromRow)]
struct Issuing {
    letter: String,
    time_zone: String,
}

/// A ticket to issue.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub unit_id: Uuid,
    pub service_id: Uuid,
    pub priority: Priority,
    pub cpf: Option<Cpf>,
}

/// Issues the ticket in `tx`: the next number of the service's local day
/// (the counter row stays locked until `tx` ends, so concurrent issues of
/// the same service queue behind it), then the ticket and its first step.
pub async fn issue(
    tx: &mut PgConnection,
    new: NewTicket,
    staff: &str,
    now: DateTime<Utc>,
) -> ServiceResult<Uuid> {
    let found: Option<Issuing> = sqlx::query_as(
        "SELECT s.letter::text AS letter, u.time_zone
           FROM services s JOIN units u ON u.id = s.unit_id
          WHERE s.id = $1 AND s.unit_id = $2",
    )
    .bind(new.service_id)
    .bind(new.unit_id)
    .fetch_optional(&mut *tx)
    .await?;
    let found = found.ok_or(ServiceError::NotFound {
        resource: "service of this unit",
    })?;
    let letter = Letter::parse(&found.letter)
        .map_err(|e| anyhow::anyhow!("stored service letter {:?}: {e}", found.letter))?;
    let time_zone = TimeZone::parse(&found.time_zone)
        .map_err(|e| anyhow::anyhow!("stored unit time zone: {e}"))?;
    let local_date = time_zone.local_date(now);

    let number: i32 = sqlx::query_scalar(
        "INSERT INTO ticket_counters (service_id, local_date, last_number) VALUES ($1, $2, 1)
         ON CONFLICT (service_id, local_date)
         DO UPDATE SET last_number = ticket_counters.last_number + 1
         RETURNING last_number",
    )
    .bind(new.service_id)
    .bind(local_date)
    .fetch_one(&mut *tx)
    .await?;
    let code = TicketCode {
        letter,
        number: u32::try_from(number).unwrap_or_default(),
    };

    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO tickets (id, unit_id, service_id, code, local_date, priority, preferential,
                              priority_rank, queued_at, created_at, cpf)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
    )
    .bind(id)
    .bind(new.unit_id)
    .bind(new.service_id)
    .bind(code.to_string())
    .bind(local_date)
    .bind(new.priority.as_str())
    .bind(new.priority.class() == Class::Preferential)
    .bind(new.priority.rank())
    .bind(now)
    .bind(new.cpf.as_ref().map(Cpf::digits))
    .execute(&mut *tx)
    .await?;
    record_step(tx, id, Step::Issued, None, staff).await?;
    Ok(id)
}

/// The parent of a route, as routing needs it.
#[derive(Debug, Clone, FromRow)]
struct Routing {
    status: String,
    priority_rank: i16,
    time_zone: String,
    routed: bool,
}

/// Routes the finished ticket `parent_id` on to `to_service_id` in `tx`
/// (the parent's row locked, so two routes of one ticket serialise and the
/// second sees the first): a new waiting ticket with the parent's code,
/// priority, CPF and arrival (or the front rank), and a `routed` step on
/// the parent. Returns the new ticket's id.
pub async fn route(
    tx: &mut PgConnection,
    parent_id: Uuid,
    to_service_id: Uuid,
    to_front: bool,
    staff: &str,
    now: DateTime<Utc>,
) -> ServiceResult<Uuid> {
    let parent: Option<Routing> = sqlx::query_as(
        "SELECT t.status, t.priority_rank, u.time_zone,
                EXISTS (SELECT 1 FROM tickets c WHERE c.parent_id = t.id) AS routed
           FROM tickets t JOIN units u ON u.id = t.unit_id
          WHERE t.id = $1
            FOR UPDATE OF t",
    )
    .bind(parent_id)
    .fetch_optional(&mut *tx)
    .await?;
    let parent = parent.ok_or_else(not_found)?;
    route::check_routable(TicketStatus::from_stored(&parent.status)?, parent.routed)?;
    let time_zone = TimeZone::parse(&parent.time_zone)
        .map_err(|e| anyhow::anyhow!("stored unit time zone: {e}"))?;

    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO tickets (id, unit_id, service_id, code, local_date, priority, preferential,
                              priority_rank, queued_at, created_at, cpf, parent_id, to_front)
         SELECT $1, p.unit_id, s.id, p.code, $3, p.priority, p.preferential, $4, p.queued_at,
                $5, p.cpf, p.id, $6
           FROM tickets p JOIN services s ON s.id = $2 AND s.unit_id = p.unit_id
          WHERE p.id = $7",
    )
    .bind(id)
    .bind(to_service_id)
    .bind(time_zone.local_date(now))
    .bind(route::routed_rank(parent.priority_rank, to_front))
    .bind(now)
    .bind(to_front)
    .bind(parent_id)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ServiceError::NotFound {
            resource: "service of this unit",
        });
    }
    record_step(tx, parent_id, Step::Routed, None, staff).await?;
    record_step(tx, id, Step::Issued, None, staff).await?;
    Ok(id)
}

/// Every ticket of the route `ticket_id` belongs to, the first (issued at
/// a totem) first: its ancestors, itself and its descendants.
pub async fn route_of(db: impl PgExecutor<'_>, ticket_id: Uuid) -> ServiceResult<Vec<TicketRow>> {
    let rows: Vec<TicketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE up AS (
             SELECT id, parent_id FROM tickets WHERE id = $1
             UNION ALL
             SELECT t.id, t.parent_id FROM tickets t JOIN up ON t.id = up.parent_id
         ), root AS (
             SELECT id FROM up WHERE parent_id IS NULL
         ), down AS (
             SELECT id, 0 AS depth FROM root
             UNION ALL
             SELECT t.id, down.depth + 1 FROM tickets t JOIN down ON t.parent_id = down.id
         )
         {SELECT} JOIN down USING (id) ORDER BY down.depth"
    )))
    .bind(ticket_id)
    .fetch_all(db)
    .await?;
    if rows.is_empty() {
        return Err(not_found());
    }
    Ok(rows)
}

/// Appends a step to the ticket's journey.
async fn record_step(
    tx: &mut PgConnection,
    ticket_id: Uuid,
    step: Step,
    desk_id: Option<Uuid>,
    staff: &str,
) -> ServiceResult<()> {
    sqlx::query(
        "INSERT INTO ticket_steps (ticket_id, position, step, desk_id, staff)
         SELECT $1, COALESCE(MAX(position), 0) + 1, $2, $3, $4
           FROM ticket_steps WHERE ticket_id = $1",
    )
    .bind(ticket_id)
    .bind(step.as_str())
    .bind(desk_id)
    .bind(staff)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The ticket with `id`.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<TicketRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(not_found)
}

/// How many tickets of the same service and day wait ahead of `ticket`:
/// of its class and rank, issued before it, plus every preferential ticket
/// for a normal one.
pub async fn people_ahead(db: impl PgExecutor<'_>, ticket_id: Uuid) -> ServiceResult<i32> {
    let ahead: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tickets o, tickets t
          WHERE t.id = $1 AND o.id <> t.id AND o.status = 'waiting'
            AND o.service_id = t.service_id AND o.local_date = t.local_date
            AND (   (o.preferential AND NOT t.preferential)
                 OR (o.preferential = t.preferential
                     AND (o.priority_rank, o.queued_at, o.id)
                       < (t.priority_rank, t.queued_at, t.id)))",
    )
    .bind(ticket_id)
    .fetch_one(db)
    .await?;
    Ok(i32::try_from(ahead).unwrap_or(i32::MAX))
}

/// The desk's state when it calls.
#[derive(Debug, Clone, FromRow)]
struct Calling {
    preferential_streak: i32,
    max_preferential_streak: i32,
    time_zone: String,
    service_ids: Vec<Uuid>,
}

/// Calls the next ticket for `desk_id` in `tx` by the unit's fairness rule,
/// or `None` when nothing of today waits among the desk's services.
///
/// The desk's row is locked first, so one desk's calls (and its streak)
/// are serialised; the ticket is taken with `FOR UPDATE SKIP LOCKED`, so a
/// ticket another desk is taking at that instant is passed over rather
/// than given twice or waited for.
pub async fn call_next(
    tx: &mut PgConnection,
    desk_id: Uuid,
    staff: &str,
    now: DateTime<Utc>,
) -> ServiceResult<Option<Uuid>> {
    let desk: Option<Calling> = sqlx::query_as(
        "SELECT d.preferential_streak, u.max_preferential_streak, u.time_zone,
                COALESCE((SELECT array_agg(service_id) FROM desk_services
                           WHERE desk_id = d.id), '{}') AS service_ids
           FROM desks d JOIN units u ON u.id = d.unit_id
          WHERE d.id = $1
            FOR UPDATE OF d",
    )
    .bind(desk_id)
    .fetch_optional(&mut *tx)
    .await?;
    let desk = desk.ok_or(ServiceError::NotFound { resource: "desk" })?;
    let rule = FairnessRule::new(desk.max_preferential_streak)
        .map_err(|e| anyhow::anyhow!("stored fairness rule: {e}"))?;
    let time_zone = TimeZone::parse(&desk.time_zone)
        .map_err(|e| anyhow::anyhow!("stored unit time zone: {e}"))?;
    let today = time_zone.local_date(now);
    let streak = u32::try_from(desk.preferential_streak).unwrap_or_default();

    let (preferential_waiting, normal_waiting): (Option<bool>, Option<bool>) = sqlx::query_as(
        "SELECT bool_or(preferential), bool_or(NOT preferential) FROM tickets
          WHERE status = 'waiting' AND service_id = ANY($1) AND local_date = $2",
    )
    .bind(&desk.service_ids)
    .bind(today)
    .fetch_one(&mut *tx)
    .await?;
    let Some(first) = rule.next_class(
        streak,
        preferential_waiting.unwrap_or(false),
        normal_waiting.unwrap_or(false),
    ) else {
        return Ok(None);
    };
    // The class the rule chose may have been taken by another desk since
    // the look: then the other class, rather than nothing.
    let other = match first {
        Class::Preferential => Class::Normal,
        Class::Normal => Class::Preferential,
    };
    for class in [first, other] {
        let taken: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM tickets
              WHERE status = 'waiting' AND service_id = ANY($1) AND local_date = $2
                AND preferential = $3
              ORDER BY priority_rank, queued_at, id
              LIMIT 1
                FOR UPDATE SKIP LOCKED",
        )
        .bind(&desk.service_ids)
        .bind(today)
        .bind(class == Class::Preferential)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(ticket_id) = taken else { continue };
        sqlx::query(
            "UPDATE tickets SET status = $2, desk_id = $3, called_at = $4, updated_at = $4
              WHERE id = $1",
        )
        .bind(ticket_id)
        .bind(TicketStatus::Waiting.after(Move::Call)?.as_str())
        .bind(desk_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let streak = FairnessRule::streak_after(streak, class);
        sqlx::query("UPDATE desks SET preferential_streak = $2 WHERE id = $1")
            .bind(desk_id)
            .bind(i32::try_from(streak).unwrap_or(i32::MAX))
            .execute(&mut *tx)
            .await?;
        record_step(tx, ticket_id, Move::Call.step(), Some(desk_id), staff).await?;
        return Ok(Some(ticket_id));
    }
    Ok(None)
}

/// Applies `action` to the ticket in `tx`, with its row locked, or
/// FAILED_PRECONDITION when its status does not allow it.
pub async fn apply(
    tx: &mut PgConnection,
    ticket_id: Uuid,
    action: Move,
    staff: &str,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let found: Option<(String, Option<Uuid>)> =
        sqlx::query_as("SELECT status, desk_id FROM tickets WHERE id = $1 FOR UPDATE")
            .bind(ticket_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (status, desk_id) = found.ok_or_else(not_found)?;
    let next = TicketStatus::from_stored(&status)?.after(action)?;
    sqlx::query(
        "UPDATE tickets SET status = $2, updated_at = $3,
                started_at  = CASE WHEN $4 THEN $3 ELSE started_at END,
                finished_at = CASE WHEN $5 THEN $3 ELSE finished_at END
          WHERE id = $1",
    )
    .bind(ticket_id)
    .bind(next.as_str())
    .bind(now)
    .bind(action == Move::Start)
    .bind(next.is_final())
    .execute(&mut *tx)
    .await?;
    record_step(tx, ticket_id, action.step(), desk_id, staff).await
}

/// A recorded step with its ticket and its desk's name.
#[derive(Debug, Clone, FromRow)]
pub struct StepRow {
    pub ticket_id: Uuid,
    pub step: String,
    pub desk_id: Option<Uuid>,
    pub desk_name: Option<String>,
    pub staff: String,
    pub at: DateTime<Utc>,
}

/// The steps of `ticket_ids` (a route, in its order) in the order they
/// happened, in one query.
pub async fn steps(db: impl PgExecutor<'_>, ticket_ids: &[Uuid]) -> ServiceResult<Vec<StepRow>> {
    Ok(sqlx::query_as(
        "SELECT s.ticket_id, s.step, s.desk_id, d.name AS desk_name, s.staff, s.at
           FROM ticket_steps s LEFT JOIN desks d ON d.id = s.desk_id
          WHERE s.ticket_id = ANY($1)
          ORDER BY s.at, array_position($1, s.ticket_id), s.position",
    )
    .bind(ticket_ids)
    .fetch_all(db)
    .await?)
}

/// One service's numbers for a local day.
#[derive(Debug, Clone, FromRow)]
pub struct StatsRow {
    pub service_id: Uuid,
    pub letter: String,
    pub waiting: i64,
    pub called: i64,
    pub average_wait_seconds: Option<f64>,
    pub average_attendance_seconds: Option<f64>,
}

/// Every service of the unit with its numbers for `local_date`, by letter.
pub async fn stats(
    db: impl PgExecutor<'_>,
    unit_id: Uuid,
    local_date: NaiveDate,
) -> ServiceResult<Vec<StatsRow>> {
    Ok(sqlx::query_as(
        "SELECT s.id AS service_id, s.letter::text AS letter,
                count(t.id) FILTER (WHERE t.status = 'waiting') AS waiting,
                count(t.called_at) AS called,
                avg(EXTRACT(EPOCH FROM t.called_at - t.queued_at))::float8
                    AS average_wait_seconds,
                avg(EXTRACT(EPOCH FROM t.finished_at - t.started_at))
                    FILTER (WHERE t.status = 'finished')::float8
                    AS average_attendance_seconds
           FROM services s
           LEFT JOIN tickets t ON t.service_id = s.id AND t.local_date = $2
          WHERE s.unit_id = $1
          GROUP BY s.id, s.letter
          ORDER BY s.letter",
    )
    .bind(unit_id)
    .bind(local_date)
    .fetch_all(db)
    .await?)
}
