//! Patient routes: after an attendance a patient is sent on to another
//! service of the unit with the same code, queued by the original arrival,
//! or ahead of the whole class when the route says "to the front".

use malha_kit::ServiceError;

use super::TicketStatus;

/// The rank of a ticket routed to the front: below every priority's rank,
/// so it comes first in its class whatever its priority (80+ included).
pub const FRONT_RANK: i16 = -1;

/// Whether a ticket in `status`, already routed on or not, may be routed.
pub fn check_routable(status: TicketStatus, already_routed: bool) -> Result<(), ServiceError> {
    if already_routed {
        return Err(ServiceError::precondition(
            "TICKET_ALREADY_ROUTED",
            "this ticket was already routed on; route the newest ticket of the journey",
        ));
    }
    if status != TicketStatus::Finished {
        return Err(ServiceError::precondition(
            "ATTENDANCE_NOT_FINISHED",
            format!(
                "a ticket is routed on after its attendance finished; this one is {}",
                malha_kit::stored::StoredName::as_str(status)
            ),
        ));
    }
    Ok(())
}

/// The call-order rank of the routed ticket.
pub fn routed_rank(parent_rank: i16, to_front: bool) -> i16 {
    if to_front { FRONT_RANK } else { parent_rank }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_finished_attendance_is_routed_and_only_once() {
        assert!(check_routable(TicketStatus::Finished, false).is_ok());
        for status in [
            TicketStatus::Waiting,
            TicketStatus::Called,
            TicketStatus::InAttendance,
            TicketStatus::NoShow,
            TicketStatus::Cancelled,
        ] {
            let refused = check_routable(status, false).unwrap_err();
            assert!(
                matches!(
                    refused,
                    ServiceError::FailedPrecondition {
                        reason: "ATTENDANCE_NOT_FINISHED",
                        ..
                    }
                ),
                "{status:?}"
            );
        }
        assert!(matches!(
            check_routable(TicketStatus::Finished, true),
            Err(ServiceError::FailedPrecondition {
                reason: "TICKET_ALREADY_ROUTED",
                ..
            })
        ));
    }

    #[test]
    fn to_the_front_ranks_ahead_of_every_priority() {
        use crate::domain::Priority;
        assert_eq!(routed_rank(1, false), 1);
        assert_eq!(routed_rank(0, false), 0);
        assert_eq!(routed_rank(1, true), FRONT_RANK);
        assert!(FRONT_RANK < Priority::Aged80Plus.rank());
    }
}
