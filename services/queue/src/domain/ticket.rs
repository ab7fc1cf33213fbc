//! The life of a ticket: waiting, called (and recalled), in attendance,
//! then finished, a no-show or cancelled. Every other move is refused.

use malha_kit::ServiceError;
use malha_kit::stored::StoredName;

/// Where a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketStatus {
    Waiting,
    Called,
    InAttendance,
    Finished,
    NoShow,
    Cancelled,
}

/// What a desk or the reception does to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Call,
    Recall,
    Start,
    Finish,
    MarkNoShow,
    Cancel,
}

impl TicketStatus {
    /// The status after `action`, or FAILED_PRECONDITION naming both.
    pub fn after(self, action: Move) -> Result<Self, ServiceError> {
        use Move::{Call, Cancel, Finish, MarkNoShow, Recall, Start};
        use TicketStatus::{Called, Cancelled, Finished, InAttendance, NoShow, Waiting};
        match (self, action) {
            (Waiting, Call) | (Called, Recall) => Ok(Called),
            (Called, Start) => Ok(InAttendance),
            (InAttendance, Finish) => Ok(Finished),
            (Called, MarkNoShow) => Ok(NoShow),
            (Waiting | Called, Cancel) => Ok(Cancelled),
            (from, action) => Err(ServiceError::precondition(
                "ILLEGAL_TICKET_MOVE",
                format!(
                    "a ticket that is {} cannot be {}",
                    from.as_str(),
                    action.past_participle()
                ),
            )),
        }
    }

    /// Whether nothing more can happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Finished | Self::NoShow | Self::Cancelled)
    }
}

/// A step of a ticket's journey, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Issued,
    Called,
    Recalled,
    Started,
    Finished,
    NoShow,
    Cancelled,
    Routed,
}

impl StoredName for Step {
    const KIND: &'static str = "ticket step";
    const ALL: &'static [Self] = &[
        Self::Issued,
        Self::Called,
        Self::Recalled,
        Self::Started,
        Self::Finished,
        Self::NoShow,
        Self::Cancelled,
        Self::Routed,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Routed => "routed",
            Self::Issued => "issued",
            Self::Called => "called",
            Self::Recalled => "recalled",
            Self::Started => "started",
            Self::Finished => "finished",
            Self::NoShow => "no_show",
            Self::Cancelled => "cancelled",
        }
    }
}

impl Move {
    /// The step recorded in the ticket's journey.
    pub fn step(self) -> Step {
        match self {
            Self::Call => Step::Called,
            Self::Recall => Step::Recalled,
            Self::Start => Step::Started,
            Self::Finish => Step::Finished,
            Self::MarkNoShow => Step::NoShow,
            Self::Cancel => Step::Cancelled,
        }
    }

    fn past_participle(self) -> &'static str {
        match self {
            Self::Call => "called",
            Self::Recall => "recalled",
            Self::Start => "started",
            Self::Finish => "finished",
            Self::MarkNoShow => "marked a no-show",
            Self::Cancel => "cancelled",
        }
    }
}

impl StoredName for TicketStatus {
    const KIND: &'static str = "ticket status";
    const ALL: &'static [Self] = &[
        Self::Waiting,
        Self::Called,
        Self::InAttendance,
        Self::Finished,
        Self::NoShow,
        Self::Cancelled,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Called => "called",
            Self::InAttendance => "in_attendance",
            Self::Finished => "finished",
            Self::NoShow => "no_show",
            Self::Cancelled => "cancelled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Move::*;
    use super::TicketStatus::*;
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        malha_kit::stored::assert_round_trips::<TicketStatus>();
        malha_kit::stored::assert_round_trips::<Step>();
    }

    #[test]
    fn every_move_outside_the_lifecycle_is_a_failed_precondition() {
        let legal = [
            (Waiting, Call, Called),
            (Called, Recall, Called),
            (Called, Start, InAttendance),
            (InAttendance, Finish, Finished),
            (Called, MarkNoShow, NoShow),
            (Waiting, Cancel, Cancelled),
            (Called, Cancel, Cancelled),
        ];
        for from in TicketStatus::ALL {
            for action in [Call, Recall, Start, Finish, MarkNoShow, Cancel] {
                let result = from.after(action);
                match legal.iter().find(|(f, a, _)| f == from && *a == action) {
                    Some((_, _, to)) => assert_eq!(result.unwrap(), *to, "{from:?} {action:?}"),
                    None => {
                        let status = tonic::Status::from(result.unwrap_err());
                        assert_eq!(
                            status.code(),
                            tonic::Code::FailedPrecondition,
                            "{from:?} {action:?}"
                        );
                    }
                }
            }
        }
        assert!(Finished.is_final() && NoShow.is_final() && Cancelled.is_final());
        assert!(!Called.is_final() && !Waiting.is_final());
    }
}
