//! The order status machine: RECEIVED → AWAITING_PAYMENT → PAID → PREPARING
//! → READY → DELIVERED, CANCELLED before PREPARING. Who may make a move
//! matters: payments' events move money states, the kitchen moves food
//! states, a customer may only cancel before paying.

use malha_kit::stored::StoredName;
use malha_kit::{ServiceError, ServiceResult};

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Received,
    AwaitingPayment,
    Paid,
    Preparing,
    Ready,
    Delivered,
    Cancelled,
}

/// Who asks for a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mover {
    /// The customer who placed the order.
    Customer,
    /// Staff (employees, admins).
    Staff,
    /// The system: the payment request and payments' events.
    System,
}

impl StoredName for Status {
    const KIND: &'static str = "order status";
    /// Every status, in the order of the happy path (cancelled last).
    const ALL: &'static [Self] = &[
        Self::Received,
        Self::AwaitingPayment,
        Self::Paid,
        Self::Preparing,
        Self::Ready,
        Self::Delivered,
        Self::Cancelled,
    ];

    fn as_str(self) -> &'static str {
        Status::as_str(self)
    }
}

impl Status {
    /// The stored name (also here, not only in [`StoredName`], so that
    /// writers need no trait import).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::AwaitingPayment => "awaiting_payment",
            Self::Paid => "paid",
            Self::Preparing => "preparing",
            Self::Ready => "ready",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether an order in this status still needs a payment: it was placed
    /// and not yet paid (nor cancelled).
    pub fn needs_payment(self) -> bool {
        matches!(self, Self::Received | Self::AwaitingPayment)
    }

    /// Ok when a payment may be asked for; FAILED_PRECONDITION otherwise.
    pub fn check_payable(self) -> ServiceResult<()> {
        if self.needs_payment() {
            Ok(())
        } else {
            Err(ServiceError::precondition(
                "ORDER_NOT_PAYABLE",
                format!("an order that is {} needs no payment", self.as_str()),
            ))
        }
    }

    /// Whether a payment just created moves the order to AWAITING_PAYMENT:
    /// only from RECEIVED; one already awaiting keeps the payment it has.
    pub fn records_new_payment(self) -> bool {
        self == Self::Received
    }

    /// Delivered and cancelled orders are done: nothing moves them again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Cancelled)
    }

    /// Whether `by` may move an order from `self` to `next`.
    pub fn can_become(self, next: Self, by: Mover) -> bool {
        use Status::{AwaitingPayment, Cancelled, Delivered, Paid, Preparing, Ready, Received};
        match by {
            Mover::System => matches!(
                (self, next),
                (Received, AwaitingPayment)
                    | (AwaitingPayment, Paid)
                    // The payment was rejected: a new one may be requested.
                    | (AwaitingPayment, Received)
                    // The payment expired unpaid.
                    | (Received | AwaitingPayment, Cancelled)
            ),
            Mover::Staff => matches!(
                (self, next),
                (Paid, Preparing)
                    | (Preparing, Ready)
                    | (Ready, Delivered)
                    | (Received | AwaitingPayment | Paid, Cancelled)
            ),
            Mover::Customer => matches!((self, next), (Received | AwaitingPayment, Cancelled)),
        }
    }

    /// The kitchen's order: READY first, then PREPARING, then the rest.
    pub fn kitchen_rank(self) -> i32 {
        match self {
            Self::Ready => 0,
            Self::Preparing => 1,
            _ => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Mover::{Customer, Staff, System};
    use super::Status::{self, *};
    use malha_kit::stored::StoredName;

    #[test]
    fn the_happy_path_is_legal_step_by_step() {
        assert!(Received.can_become(AwaitingPayment, System));
        assert!(AwaitingPayment.can_become(Paid, System));
        assert!(Paid.can_become(Preparing, Staff));
        assert!(Preparing.can_become(Ready, Staff));
        assert!(Ready.can_become(Delivered, Staff));
    }

    #[test]
    fn cancelling_is_possible_only_before_preparing() {
        for s in [Received, AwaitingPayment, Paid] {
            assert!(s.can_become(Cancelled, Staff), "{s:?}");
        }
        for s in [Preparing, Ready, Delivered, Cancelled] {
            for by in [Customer, Staff, System] {
                assert!(!s.can_become(Cancelled, by), "{s:?} by {by:?}");
            }
        }
        assert!(Received.can_become(Cancelled, Customer));
        assert!(AwaitingPayment.can_become(Cancelled, Customer));
        assert!(
            !Paid.can_become(Cancelled, Customer),
            "a paid order is cancelled by staff"
        );
    }

    #[test]
    fn nobody_skips_steps_or_goes_back_in_the_kitchen() {
        let staff_moves: Vec<(Status, Status)> = Status::ALL
            .iter()
            .copied()
            .flat_map(|a| Status::ALL.iter().map(move |&b| (a, b)))
            .filter(|&(a, b)| a.can_become(b, Staff))
            .collect();
        assert_eq!(
            staff_moves,
            [
                (Received, Cancelled),
                (AwaitingPayment, Cancelled),
                (Paid, Preparing),
                (Paid, Cancelled),
                (Preparing, Ready),
                (Ready, Delivered),
            ]
        );
        assert!(
            !Received.can_become(Paid, Staff),
            "paid comes from payments"
        );
        assert!(!Paid.can_become(Preparing, Customer));
        assert!(!Paid.can_become(Preparing, System));
        assert!(!Delivered.can_become(Ready, Staff));
        for &s in Status::ALL {
            assert!(!s.can_become(s, Staff) && !s.can_become(s, System));
        }
    }

    #[test]
    fn stored_statuses_round_trip_and_an_unknown_one_is_an_error() {
        malha_kit::stored::assert_round_trips::<Status>();
        // A status a newer version might store is never read as an old one.
        assert_eq!(
            Status::from_stored("refunded").unwrap_err().value,
            "refunded"
        );
        assert!(Status::from_stored("Received").is_err(), "names are exact");
    }

    #[test]
    fn only_a_placed_unpaid_order_is_paid_for() {
        for &s in Status::ALL {
            assert_eq!(
                s.needs_payment(),
                matches!(s, Received | AwaitingPayment),
                "{s:?}"
            );
            assert_eq!(s.check_payable().is_ok(), s.needs_payment(), "{s:?}");
            assert_eq!(s.records_new_payment(), s == Received, "{s:?}");
        }
        let Err(malha_kit::ServiceError::FailedPrecondition { reason, message }) =
            Paid.check_payable()
        else {
            panic!("a paid order is not payable")
        };
        assert_eq!(reason, "ORDER_NOT_PAYABLE");
        assert_eq!(message, "an order that is paid needs no payment");
    }

    #[test]
    fn a_rejected_payment_sends_the_order_back_for_another() {
        assert!(AwaitingPayment.can_become(Received, System));
        assert!(!AwaitingPayment.can_become(Received, Staff));
    }

    #[test]
    fn the_kitchen_sees_ready_then_preparing_then_the_rest() {
        let mut statuses = [Received, Paid, Ready, AwaitingPayment, Preparing];
        statuses.sort_by_key(|s| s.kitchen_rank());
        assert_eq!(statuses[..2], [Ready, Preparing]);
        assert!(Delivered.is_final() && Cancelled.is_final() && !Ready.is_final());
    }
}
