//! Where a payment stands, and the moves allowed between statuses.

/// The status of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Expired,
    Refunded,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
        }
    }

    /// Parses the stored name.
    pub fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "expired" => Self::Expired,
            "refunded" => Self::Refunded,
            _ => return None,
        })
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
            assert_eq!(Status::parse(from.as_str()), Some(from));
        }
        assert!(Pending.is_live() && Approved.is_live());
        assert!(!Rejected.is_live() && !Expired.is_live() && !Refunded.is_live());
    }
}
