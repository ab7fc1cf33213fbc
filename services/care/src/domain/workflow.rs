//! The life of a request, named after FHIR Task statuses: requested →
//! accepted → in-progress → completed, or rejected (by pharmacy staff, with
//! a reason) or cancelled (by the requester, before anyone accepted it).
//!
//! The rule answers in a fixed order, so the caller learns the most useful
//! thing first: a move the status does not allow is illegal for everyone
//! (`FAILED_PRECONDITION`); a legal move the caller may not make is
//! `PERMISSION_DENIED`; a permitted move missing what it needs (a reason, a
//! dispenser) is `INVALID_ARGUMENT` on that field.

use malha_kit::error::ServiceError;
use malha_kit::stored::StoredName;

/// Where a request is (FHIR Task `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Asked for; nobody has taken it yet.
    Requested,
    /// Pharmacy staff took it.
    Accepted,
    /// Being separated from a cabinet or on its way.
    InProgress,
    /// Delivered. Final.
    Completed,
    /// Pharmacy staff refused it, with a reason. Final.
    Rejected,
    /// The requester withdrew it before acceptance. Final.
    Cancelled,
}

impl StoredName for Status {
    const KIND: &'static str = "care request status";
    const ALL: &'static [Self] = &[
        Self::Requested,
        Self::Accepted,
        Self::InProgress,
        Self::Completed,
        Self::Rejected,
        Self::Cancelled,
    ];

    /// FHIR's own codes, so the stored value reads as the standard does.
    fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Accepted => "accepted",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }
}

impl Status {
    /// No move leaves it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Rejected | Self::Cancelled)
    }

    /// Still waiting for someone (what the live watch shows first).
    pub fn is_open(self) -> bool {
        !self.is_final()
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Medicine,
    Material,
    /// Someone to come; no items, so completing it moves no stock.
    Assistance,
}

impl StoredName for RequestKind {
    const KIND: &'static str = "care request kind";
    const ALL: &'static [Self] = &[Self::Medicine, Self::Material, Self::Assistance];

    fn as_str(self) -> &'static str {
        match self {
            Self::Medicine => "medicine",
            Self::Material => "material",
            Self::Assistance => "assistance",
        }
    }
}

impl RequestKind {
    /// Whether the request carries items taken from a cabinet.
    pub fn has_items(self) -> bool {
        self != Self::Assistance
    }
}

/// Who is moving the request, as the rule needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mover {
    /// Pharmacy staff (the `pharmacist` role) or an administrator.
    pub fulfils: bool,
    /// The request's own requester.
    pub is_requester: bool,
    /// An administrator, who may also cancel on someone's behalf.
    pub is_admin: bool,
}

/// A requested move with what it carries.
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    pub to: Status,
    /// Why; required to reject, kept in the history for any move.
    pub reason: &'a str,
    /// The cabinet the items came from; required to complete a request with
    /// items.
    pub dispenser_given: bool,
}

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// The status does not allow it, whoever asks.
    Illegal { from: Status, to: Status },
    /// Allowed, but not for this caller.
    NotYours(&'static str),
    /// Allowed for this caller, but a field it needs is missing.
    Missing {
        field: &'static str,
        why: &'static str,
    },
}

impl From<TransitionError> for ServiceError {
    fn from(error: TransitionError) -> Self {
        match error {
            TransitionError::Illegal { from, to } => ServiceError::precondition(
                "ILLEGAL_TRANSITION",
                format!("a {} request cannot become {}", from.as_str(), to.as_str()),
            ),
            TransitionError::NotYours(why) => ServiceError::PermissionDenied(why.into()),
            TransitionError::Missing { field, why } => ServiceError::invalid(field, why),
        }
    }
}

/// Who may make each legal move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    Fulfiller,
    RequesterOrAdmin,
}

fn allowed(from: Status, to: Status) -> Option<Allowed> {
    use Status::*;
    match (from, to) {
        (Requested, Accepted) | (Accepted, InProgress) | (InProgress, Completed) => {
            Some(Allowed::Fulfiller)
        }
        // Pharmacy may find it cannot serve a request it already accepted
        // (the only cabinet is in maintenance); once items are on their way
        // it completes instead.
        (Requested | Accepted, Rejected) => Some(Allowed::Fulfiller),
        (Requested, Cancelled) => Some(Allowed::RequesterOrAdmin),
        _ => None,
    }
}

/// Checks moving a `kind` request from `from` as `transition` says, by
/// `mover`; the new status when allowed.
pub fn check(
    kind: RequestKind,
    from: Status,
    transition: Transition<'_>,
    mover: Mover,
) -> Result<Status, TransitionError> {
    let to = transition.to;
    let Some(who) = allowed(from, to) else {
        return Err(TransitionError::Illegal { from, to });
    };
    match who {
        Allowed::Fulfiller if !mover.fulfils => {
            return Err(TransitionError::NotYours(
                "only pharmacy staff accept, start, complete or reject requests",
            ));
        }
        Allowed::RequesterOrAdmin if !(mover.is_requester || mover.is_admin) => {
            return Err(TransitionError::NotYours(
                "only the requester cancels a request",
            ));
        }
        _ => {}
    }
    if to == Status::Rejected && transition.reason.trim().is_empty() {
        return Err(TransitionError::Missing {
            field: "reason",
            why: "required to reject a request",
        });
    }
    if to == Status::Completed && kind.has_items() && !transition.dispenser_given {
        return Err(TransitionError::Missing {
            field: "dispenser_id",
            why: "required to complete a medicine or material request: the cabinet its items came from",
        });
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    const PHARMACIST: Mover = Mover {
        fulfils: true,
        is_requester: false,
        is_admin: false,
    };
    const REQUESTER: Mover = Mover {
        fulfils: false,
        is_requester: true,
        is_admin: false,
    };
    const OTHER_NURSE: Mover = Mover {
        fulfils: false,
        is_requester: false,
        is_admin: false,
    };
    const ADMIN: Mover = Mover {
        fulfils: true,
        is_requester: false,
        is_admin: true,
    };

    fn to(status: Status) -> Transition<'static> {
        Transition {
            to: status,
            reason: "",
            dispenser_given: true,
        }
    }

    #[test]
    fn statuses_and_kinds_round_trip_through_their_stored_names() {
        malha_kit::stored::assert_round_trips::<Status>();
        malha_kit::stored::assert_round_trips::<RequestKind>();
        assert_eq!(InProgress.as_str(), "in-progress", "FHIR's code");
    }

    #[test]
    fn pharmacy_staff_carry_a_request_to_completion() {
        let mut status = Requested;
        for next in [Accepted, InProgress, Completed] {
            status = check(RequestKind::Medicine, status, to(next), PHARMACIST).unwrap();
        }
        assert_eq!(status, Completed);
        assert!(status.is_final());
    }

    #[test]
    fn steps_cannot_be_skipped_or_undone() {
        for (from, next) in [
            (Requested, InProgress),
            (Requested, Completed),
            (Accepted, Completed),
            (Accepted, Requested),
            (InProgress, Accepted),
            (InProgress, Cancelled),
            (Accepted, Cancelled),
            (InProgress, Rejected),
        ] {
            assert_eq!(
                check(RequestKind::Material, from, to(next), ADMIN),
                Err(TransitionError::Illegal { from, to: next }),
                "{from:?} -> {next:?}"
            );
        }
    }

    #[test]
    fn nothing_leaves_a_final_status() {
        for from in [Completed, Rejected, Cancelled] {
            for next in Status::ALL {
                assert!(
                    matches!(
                        check(RequestKind::Medicine, from, to(*next), ADMIN),
                        Err(TransitionError::Illegal { .. })
                    ),
                    "{from:?} -> {next:?}"
                );
            }
        }
    }

    #[test]
    fn only_pharmacy_staff_fulfil() {
        for (from, next) in [
            (Requested, Accepted),
            (Accepted, InProgress),
            (InProgress, Completed),
        ] {
            for mover in [REQUESTER, OTHER_NURSE] {
                assert!(
                    matches!(
                        check(RequestKind::Assistance, from, to(next), mover),
                        Err(TransitionError::NotYours(_))
                    ),
                    "{from:?} -> {next:?} by {mover:?}"
                );
            }
        }
    }

    #[test]
    fn only_the_requester_or_an_administrator_cancels_and_only_before_acceptance() {
        assert_eq!(
            check(RequestKind::Medicine, Requested, to(Cancelled), REQUESTER),
            Ok(Cancelled)
        );
        assert_eq!(
            check(RequestKind::Medicine, Requested, to(Cancelled), ADMIN),
            Ok(Cancelled)
        );
        for mover in [OTHER_NURSE, PHARMACIST] {
            assert!(matches!(
                check(RequestKind::Medicine, Requested, to(Cancelled), mover),
                Err(TransitionError::NotYours(_))
            ));
        }
        // After acceptance the status forbids it, even to the requester.
        assert!(matches!(
            check(RequestKind::Medicine, Accepted, to(Cancelled), REQUESTER),
            Err(TransitionError::Illegal { .. })
        ));
    }

    #[test]
    fn rejecting_needs_a_reason() {
        let bare = to(Rejected);
        assert_eq!(
            check(RequestKind::Medicine, Requested, bare, PHARMACIST),
            Err(TransitionError::Missing {
                field: "reason",
                why: "required to reject a request"
            })
        );
        let with_reason = Transition {
            reason: "out of stock in every cabinet",
            ..bare
        };
        assert_eq!(
            check(RequestKind::Medicine, Accepted, with_reason, PHARMACIST),
            Ok(Rejected)
        );
    }

    #[test]
    fn completing_a_request_with_items_names_the_cabinet() {
        let without = Transition {
            dispenser_given: false,
            ..to(Completed)
        };
        for kind in [RequestKind::Medicine, RequestKind::Material] {
            assert!(matches!(
                check(kind, InProgress, without, PHARMACIST),
                Err(TransitionError::Missing {
                    field: "dispenser_id",
                    ..
                })
            ));
        }
        assert_eq!(
            check(RequestKind::Assistance, InProgress, without, PHARMACIST),
            Ok(Completed)
        );
    }

    #[test]
    fn errors_map_to_the_codes_the_contract_names() {
        use tonic::Code;
        let status = |e: TransitionError| tonic::Status::from(ServiceError::from(e)).code();
        assert_eq!(
            status(TransitionError::Illegal {
                from: Completed,
                to: Accepted
            }),
            Code::FailedPrecondition
        );
        assert_eq!(
            status(TransitionError::NotYours("x")),
            Code::PermissionDenied
        );
        assert_eq!(
            status(TransitionError::Missing {
                field: "reason",
                why: "required"
            }),
            Code::InvalidArgument
        );
    }
}
