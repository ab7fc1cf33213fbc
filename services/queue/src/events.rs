//! What queue publishes, through the outbox inside the transaction that
//! changed the ticket: an event is sent exactly when its change commits.

use sqlx::PgConnection;

use malha_api::malha::queue::v1::{AttendanceFinished, Ticket, TicketCalled, TicketIssued};
use malha_kit::ServiceResult;
use malha_kit::events;

/// A totem issued a ticket.
pub const TICKET_ISSUED: &str = "queue.ticket.issued";
/// A desk called (or recalled) a ticket.
pub const TICKET_CALLED: &str = "queue.ticket.called";
/// An attendance ended.
pub const ATTENDANCE_FINISHED: &str = "queue.attendance.finished";

pub(crate) async fn issued(tx: &mut PgConnection, ticket: &Ticket) -> ServiceResult<()> {
    let event = TicketIssued {
        ticket: Some(ticket.clone()),
    };
    events::publish(tx, crate::SCHEMA.name, TICKET_ISSUED, &event).await?;
    Ok(())
}

pub(crate) async fn called(
    tx: &mut PgConnection,
    ticket: &Ticket,
    desk_name: String,
    recall: bool,
) -> ServiceResult<()> {
    let event = TicketCalled {
        ticket: Some(ticket.clone()),
        desk_name,
        recall,
    };
    events::publish(tx, crate::SCHEMA.name, TICKET_CALLED, &event).await?;
    Ok(())
}

pub(crate) async fn finished(tx: &mut PgConnection, ticket: &Ticket) -> ServiceResult<()> {
    let event = AttendanceFinished {
        ticket: Some(ticket.clone()),
    };
    events::publish(tx, crate::SCHEMA.name, ATTENDANCE_FINISHED, &event).await?;
    Ok(())
}
