//! Where a payment stands, and the moves allowed between statuses.

use malha_kit::stored::StoredName;

/// The status of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Expired,
    Refunded,
}

impl StoredName for Status {
    const KIND: &'static str = "payment status";
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::Approved,
        Self::Rejected,
        Self::Expired,
        Self::Refunded,
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
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
        }
    }

    /// Pending → approved | rejected | expired; approved → refunded.
    pub fn can_become(self, next: Self) -> bool {
        use Status::{Approved, Expired, Pending, Refunded, Rejected};
        matches!(
            (self, next),
            (Pending, Approved | Rejected | Expired) | (Approved, Refunded)
        )
    }

    /// A live payment (pending or approved) is the order's one payment; a new
    /// one may be created only when none is live.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Pending | Self::Approved)
    }
}

#[cfg(test)]
mod tests {
    use super::Status::{self, *};
    use malha_kit::stored::StoredName;

    #[test]
    fn status_machine() {
        let all = [Pending, Approved, Rejected, Expired, Refunded];
        let allowed = [
            (Pending, Approved),
            (Pending, Rejected),
            (Pending, Expired),
            (Approved, Refunded),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} → {to:?}"
                );
            }
        }
        assert!(Pending.is_live() && Approved.is_live());
        assert!(!Rejected.is_live() && !Expired.is_live() && !Refunded.is_live());
    }

    #[test]
    fn stored_statuses_round_trip_and_an_unknown_one_is_an_error() {
        malha_kit::stored::assert_round_trips::<Status>();
        // A status a newer version might store is never read as PENDING.
        assert_eq!(
            Status::from_stored("chargeback").unwrap_err().value,
            "chargeback"
        );
    }
}
