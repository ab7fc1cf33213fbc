//! Stock at a pocket: what each movement kind does to the quantity on hand,
//! the rule that it never goes negative, and when a pocket counts as low.

use malha_kit::stored::StoredName;

/// The largest quantity one movement may move: far above any real drawer,
/// low enough that a typo (an extra zero or three) is refused.
pub const MAX_MOVEMENT: i64 = 100_000;

/// What a movement does to a pocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementKind {
    /// Stock arrives from the pharmacy.
    Restock,
    /// Stock leaves for a patient.
    Dispense,
    /// Unused stock comes back.
    Return,
    /// A count corrects the quantity, up or down.
    Adjust,
}

impl StoredName for MovementKind {
    const KIND: &'static str = "movement kind";
    const ALL: &'static [Self] = &[Self::Restock, Self::Dispense, Self::Return, Self::Adjust];

    fn as_str(self) -> &'static str {
        match self {
            Self::Restock => "restock",
            Self::Dispense => "dispense",
            Self::Return => "return",
            Self::Adjust => "adjust",
        }
    }
}

/// The quantity a movement names: positive, except that an adjustment may
/// be negative (a count found less than recorded); never zero, because a
/// movement that moves nothing is a mistake, not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovementQuantity(i64);

impl MovementQuantity {
    /// `quantity` for a movement of `kind`, or why it cannot be.
    pub fn parse(kind: MovementKind, quantity: i64) -> Result<Self, &'static str> {
        if quantity == 0 {
            return Err("must not be 0");
        }
        if quantity.abs() > MAX_MOVEMENT {
            return Err("at most 100000 per movement");
        }
        if quantity < 0 && kind != MovementKind::Adjust {
            return Err("must be positive (only an adjustment may be negative)");
        }
        Ok(Self(quantity))
    }

    /// The quantity as requested.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The change to the pocket's quantity: dispenses take away, the rest add
    /// (an adjustment adds its sign).
    pub fn delta(self, kind: MovementKind) -> i64 {
        match kind {
            MovementKind::Dispense => -self.0,
            MovementKind::Restock | MovementKind::Return | MovementKind::Adjust => self.0,
        }
    }
}

/// A movement the pocket cannot take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotEnough {
    /// On hand before the movement.
    pub on_hand: i64,
    /// What the movement would take away.
    pub wanted: i64,
}

impl std::fmt::Display for NotEnough {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the pocket holds {} and the movement takes {}",
            self.on_hand, self.wanted
        )
    }
}

/// What a movement leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The change made to the pocket.
    pub delta: i64,
    /// The pocket's quantity after it.
    pub balance: i64,
    /// The movement took the pocket from at or above its minimum to below it:
    /// `pharmacy.stock.low` is published once per fall, not on every
    /// dispense of an already low pocket.
    pub fell_below_minimum: bool,
}

/// Applies a movement to a pocket holding `on_hand` with `minimum`. The
/// database refuses a negative quantity too (a CHECK); this is the rule
/// that explains why to the caller.
pub fn apply(
    kind: MovementKind,
    quantity: MovementQuantity,
    on_hand: i64,
    minimum: i64,
) -> Result<Applied, NotEnough> {
    let delta = quantity.delta(kind);
    let balance = on_hand + delta;
    if balance < 0 {
        return Err(NotEnough {
            on_hand,
            wanted: -delta,
        });
    }
    Ok(Applied {
        delta,
        balance,
        fell_below_minimum: on_hand >= minimum && balance < minimum,
    })
}

/// How a dispense of `wanted` is taken from the pockets holding the item
/// (given in the order they are emptied, with what each has on hand): each
/// pocket gives what it can until the amount is met. Returns what each
/// pocket gives (by index, leaving out pockets that give nothing), or
/// [`NotEnough`] with the cabinet's total when all of them together fall
/// short, so nothing is taken at all.
pub fn allocate(wanted: i64, on_hand: &[i64]) -> Result<Vec<(usize, i64)>, NotEnough> {
    let total: i64 = on_hand.iter().sum();
    if wanted <= 0 || total < wanted {
        return Err(NotEnough {
            on_hand: total,
            wanted,
        });
    }
    let mut left = wanted;
    let mut taken = Vec::new();
    for (index, &has) in on_hand.iter().enumerate() {
        if left == 0 {
            break;
        }
        let take = has.min(left);
        if take > 0 {
            taken.push((index, take));
            left -= take;
        }
    }
    Ok(taken)
}

/// Whether a pocket now holding `current` (with `quantity` on hand) may be
/// assigned `next`: always when empty or unassigned, otherwise only to the
/// item it already holds (its stock would otherwise change identity).
pub fn pocket_may_hold<T: PartialEq>(current: Option<&T>, quantity: i64, next: &T) -> bool {
    match current {
        None => true,
        Some(current) => quantity == 0 || current == next,
    }
}

/// A pocket's minimum level: zero (never low) or more.
pub fn minimum_problem(minimum: i64) -> Option<&'static str> {
    if minimum < 0 {
        Some("must not be negative")
    } else if minimum > MAX_MOVEMENT {
        Some("at most 100000")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MovementKind::*;

    fn q(kind: MovementKind, n: i64) -> MovementQuantity {
        MovementQuantity::parse(kind, n).unwrap()
    }

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        malha_kit::stored::assert_round_trips::<MovementKind>();
    }

    #[test]
    fn only_an_adjustment_may_be_negative_and_nothing_may_be_zero() {
        for kind in [Restock, Dispense, Return, Adjust] {
            assert!(MovementQuantity::parse(kind, 0).is_err(), "{kind:?}");
            assert!(MovementQuantity::parse(kind, 3).is_ok(), "{kind:?}");
            assert!(
                MovementQuantity::parse(kind, MAX_MOVEMENT + 1).is_err(),
                "{kind:?}"
            );
        }
        for kind in [Restock, Dispense, Return] {
            assert!(MovementQuantity::parse(kind, -1).is_err(), "{kind:?}");
        }
        assert_eq!(q(Adjust, -2).get(), -2);
        assert!(MovementQuantity::parse(Adjust, -MAX_MOVEMENT - 1).is_err());
    }

    #[test]
    fn dispenses_take_away_and_the_rest_add() {
        assert_eq!(apply(Restock, q(Restock, 5), 2, 0).unwrap().balance, 7);
        assert_eq!(apply(Return, q(Return, 1), 2, 0).unwrap().balance, 3);
        assert_eq!(apply(Dispense, q(Dispense, 2), 2, 0).unwrap().delta, -2);
        assert_eq!(apply(Adjust, q(Adjust, -2), 5, 0).unwrap().balance, 3);
        assert_eq!(apply(Adjust, q(Adjust, 4), 5, 0).unwrap().balance, 9);
    }

    #[test]
    fn stock_never_goes_negative() {
        assert_eq!(
            apply(Dispense, q(Dispense, 3), 2, 0),
            Err(NotEnough {
                on_hand: 2,
                wanted: 3
            })
        );
        assert!(apply(Adjust, q(Adjust, -6), 5, 0).is_err());
        assert_eq!(apply(Dispense, q(Dispense, 2), 2, 0).unwrap().balance, 0);
    }

    #[test]
    fn a_pocket_is_reported_low_once_when_it_falls_below_its_minimum() {
        assert!(
            apply(Dispense, q(Dispense, 3), 10, 8)
                .unwrap()
                .fell_below_minimum
        );
        // Already low: no second report for each further dispense.
        assert!(
            !apply(Dispense, q(Dispense, 1), 7, 8)
                .unwrap()
                .fell_below_minimum
        );
        // Reaching the minimum exactly is not below it.
        assert!(
            !apply(Dispense, q(Dispense, 2), 10, 8)
                .unwrap()
                .fell_below_minimum
        );
        // A minimum of zero is never low.
        assert!(
            !apply(Dispense, q(Dispense, 10), 10, 0)
                .unwrap()
                .fell_below_minimum
        );
        assert!(
            !apply(Restock, q(Restock, 1), 0, 8)
                .unwrap()
                .fell_below_minimum
        );
    }

    #[test]
    fn a_dispense_is_taken_pocket_by_pocket_or_not_at_all() {
        assert_eq!(allocate(5, &[3, 4]), Ok(vec![(0, 3), (1, 2)]));
        assert_eq!(allocate(3, &[0, 3, 9]), Ok(vec![(1, 3)]));
        assert_eq!(allocate(2, &[2]), Ok(vec![(0, 2)]));
        assert_eq!(
            allocate(8, &[3, 4]),
            Err(NotEnough {
                on_hand: 7,
                wanted: 8
            })
        );
        assert_eq!(
            allocate(1, &[]),
            Err(NotEnough {
                on_hand: 0,
                wanted: 1
            })
        );
        assert!(allocate(0, &[5]).is_err(), "nothing to take is a mistake");
    }

    #[test]
    fn a_pocket_with_stock_keeps_its_item() {
        assert!(pocket_may_hold(None, 0, &"dipirona"));
        assert!(pocket_may_hold(Some(&"dipirona"), 0, &"morfina"));
        assert!(pocket_may_hold(Some(&"dipirona"), 5, &"dipirona"));
        assert!(!pocket_may_hold(Some(&"dipirona"), 5, &"morfina"));
    }

    #[test]
    fn minimums_are_not_negative() {
        assert_eq!(minimum_problem(0), None);
        assert_eq!(minimum_problem(20), None);
        assert!(minimum_problem(-1).is_some());
    }
}
