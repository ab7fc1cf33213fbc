//! Stock rules, free of I/O.

use malha_kit::stored::StoredName;

/// A kind of ledger movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Receipt,
    Consumption,
    Adjustment,
}

impl StoredName for Kind {
    const KIND: &'static str = "movement kind";
    const ALL: &'static [Self] = &[Self::Receipt, Self::Consumption, Self::Adjustment];

    fn as_str(self) -> &'static str {
        Kind::as_str(self)
    }
}

impl Kind {
    /// The stored name (also here, not only in [`StoredName`], so that
    /// writers need no trait import).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receipt => "receipt",
            Self::Consumption => "consumption",
            Self::Adjustment => "adjustment",
        }
    }

    /// The signed change for a requested `quantity`, or why it is invalid:
    /// receipts and consumptions take a positive quantity, adjustments a
    /// non-zero one of either sign.
    pub fn delta(self, quantity: i64) -> Result<i64, &'static str> {
        match self {
            _ if quantity.unsigned_abs() > MAX_QUANTITY.unsigned_abs() => {
                Err("absurdly large quantity")
            }
            Self::Receipt if quantity > 0 => Ok(quantity),
            Self::Consumption if quantity > 0 => Ok(-quantity),
            Self::Adjustment if quantity != 0 => Ok(quantity),
            Self::Adjustment => Err("must not be zero"),
            _ => Err("must be positive"),
        }
    }
}

/// Largest quantity of one movement.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// The outcome of applying a change to the quantity on hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The new quantity; `crossed_minimum` when it fell below the minimum
    /// level with this very change.
    Ok { after: i64, crossed_minimum: bool },
    /// Not enough on hand: nothing changes.
    Insufficient { available: i64 },
}

/// Applies `delta` to `on_hand`; stock never goes negative.
pub fn apply(on_hand: i64, delta: i64, minimum: i64) -> Applied {
    let after = on_hand.saturating_add(delta);
    if after < 0 {
        return Applied::Insufficient { available: on_hand };
    }
    Applied::Ok {
        after,
        crossed_minimum: minimum > 0 && on_hand >= minimum && after < minimum,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_an_unknown_one_is_an_error() {
        malha_kit::stored::assert_round_trips::<Kind>();
        // A kind a newer build wrote (or a typo by hand) is never read as
        // some other kind.
        let unknown = Kind::from_stored("transfer").unwrap_err();
        assert_eq!(unknown.kind, "movement kind");
        assert_eq!(unknown.value, "transfer");
    }

    #[test]
    fn deltas_by_kind() {
        assert_eq!(Kind::Receipt.delta(5), Ok(5));
        assert_eq!(Kind::Consumption.delta(5), Ok(-5));
        assert_eq!(Kind::Adjustment.delta(-3), Ok(-3));
        assert!(Kind::Receipt.delta(0).is_err());
        assert!(Kind::Consumption.delta(-1).is_err());
        assert!(Kind::Adjustment.delta(0).is_err());
        assert!(Kind::Receipt.delta(MAX_QUANTITY + 1).is_err());
        assert!(Kind::Adjustment.delta(i64::MIN).is_err());
    }

    #[test]
    fn stock_never_goes_negative() {
        assert_eq!(apply(3, -4, 0), Applied::Insufficient { available: 3 });
        assert_eq!(
            apply(3, -3, 0),
            Applied::Ok {
                after: 0,
                crossed_minimum: false
            }
        );
    }

    #[test]
    fn low_stock_fires_once_when_crossing() {
        assert_eq!(
            apply(10, -6, 5),
            Applied::Ok {
                after: 4,
                crossed_minimum: true
            }
        );
        assert_eq!(
            apply(4, -1, 5),
            Applied::Ok {
                after: 3,
                crossed_minimum: false
            }
        );
        assert_eq!(
            apply(10, -5, 5),
            Applied::Ok {
                after: 5,
                crossed_minimum: false
            }
        );
        assert_eq!(
            apply(2, 10, 5),
            Applied::Ok {
                after: 12,
                crossed_minimum: false
            }
        );
    }
}
