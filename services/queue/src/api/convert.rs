//! Rows → proto messages.

use crate::domain::{Priority, Step, TicketStatus};
use crate::store::desks::DeskRow;
use crate::store::services::ServiceRow;
use crate::store::tickets::{StatsRow, StepRow, TicketRow};
use crate::store::units::UnitRow;
use malha_api::malha::queue::v1 as pb;
use malha_kit::ServiceResult;
use malha_kit::cpf::Cpf;
use malha_kit::stored::StoredName;
use malha_kit::time::to_proto;

pub(super) fn unit(row: UnitRow) -> pb::Unit {
    pb::Unit {
        id: row.id.to_string(),
        name: row.name,
        time_zone: row.time_zone,
        max_preferential_streak: row.max_preferential_streak,
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    }
}

pub(super) fn service(row: ServiceRow) -> pb::Service {
    pb::Service {
        id: row.id.to_string(),
        unit_id: row.unit_id.to_string(),
        name: row.name,
        letter: row.letter,
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    }
}

pub(super) fn desk(row: DeskRow) -> pb::Desk {
    pb::Desk {
        id: row.id.to_string(),
        unit_id: row.unit_id.to_string(),
        name: row.name,
        service_ids: row.service_ids.iter().map(ToString::to_string).collect(),
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    }
}

pub(super) fn priority(priority: Priority) -> pb::Priority {
    match priority {
        Priority::Normal => pb::Priority::Normal,
        Priority::Aged80Plus => pb::Priority::Aged80Plus,
        Priority::Aged60Plus => pb::Priority::Aged60Plus,
        Priority::Disability => pb::Priority::Disability,
        Priority::Pregnant => pb::Priority::Pregnant,
        Priority::Nursing => pb::Priority::Nursing,
        Priority::SmallChild => pb::Priority::SmallChild,
        Priority::Obese => pb::Priority::Obese,
        Priority::ReducedMobility => pb::Priority::ReducedMobility,
        Priority::BloodDonor => pb::Priority::BloodDonor,
    }
}

fn status(status: TicketStatus) -> pb::TicketStatus {
    match status {
        TicketStatus::Waiting => pb::TicketStatus::Waiting,
        TicketStatus::Called => pb::TicketStatus::Called,
        TicketStatus::InAttendance => pb::TicketStatus::InAttendance,
        TicketStatus::Finished => pb::TicketStatus::Finished,
        TicketStatus::NoShow => pb::TicketStatus::NoShow,
        TicketStatus::Cancelled => pb::TicketStatus::Cancelled,
    }
}

/// How much of a patient's CPF a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CpfView {
    /// Clinic staff and administrators (`queue.patient.read`).
    Whole,
    /// Totems, other services, events: `***.456.789-**`.
    Masked,
}

/// A stored ticket; a priority or status this build does not know is an
/// error, never read as a default.
pub(super) fn ticket(row: TicketRow, view: CpfView) -> ServiceResult<pb::Ticket> {
    let cpf = match row.cpf.as_deref().map(Cpf::parse) {
        None => String::new(),
        Some(Ok(cpf)) if view == CpfView::Whole => cpf.digits().to_owned(),
        Some(Ok(cpf)) => cpf.masked(),
        Some(Err(e)) => return Err(anyhow::anyhow!("stored ticket CPF: {e}").into()),
    };
    Ok(pb::Ticket {
        id: row.id.to_string(),
        unit_id: row.unit_id.to_string(),
        service_id: row.service_id.to_string(),
        code: row.code,
        priority: priority(Priority::from_stored(&row.priority)?).into(),
        status: status(TicketStatus::from_stored(&row.status)?).into(),
        desk_id: row.desk_id.map(|id| id.to_string()).unwrap_or_default(),
        local_date: row.local_date.to_string(),
        issue_time: to_proto(row.created_at),
        call_time: row.called_at.and_then(to_proto),
        start_time: row.started_at.and_then(to_proto),
        finish_time: row.finished_at.and_then(to_proto),
        parent_ticket_id: row.parent_id.map(|id| id.to_string()).unwrap_or_default(),
        cpf,
        to_front: row.to_front,
    })
}

/// A recorded step; a step this build does not know is an error.
pub(super) fn step(row: StepRow) -> ServiceResult<pb::JourneyStep> {
    let kind = match Step::from_stored(&row.step)? {
        Step::Issued => pb::StepKind::Issued,
        Step::Called => pb::StepKind::Called,
        Step::Recalled => pb::StepKind::Recalled,
        Step::Started => pb::StepKind::Started,
        Step::Finished => pb::StepKind::Finished,
        Step::NoShow => pb::StepKind::NoShow,
        Step::Cancelled => pb::StepKind::Cancelled,
        Step::Routed => pb::StepKind::Routed,
    };
    Ok(pb::JourneyStep {
        kind: kind.into(),
        desk_id: row.desk_id.map(|id| id.to_string()).unwrap_or_default(),
        desk_name: row.desk_name.unwrap_or_default(),
        staff: row.staff,
        time: to_proto(row.at),
        ticket_id: row.ticket_id.to_string(),
    })
}

pub(super) fn stats(row: StatsRow) -> pb::ServiceStats {
    pb::ServiceStats {
        service_id: row.service_id.to_string(),
        letter: row.letter,
        waiting: i32::try_from(row.waiting).unwrap_or(i32::MAX),
        called: i32::try_from(row.called).unwrap_or(i32::MAX),
        average_wait_seconds: row.average_wait_seconds.unwrap_or(0.0),
        average_attendance_seconds: row.average_attendance_seconds.unwrap_or(0.0),
    }
}
