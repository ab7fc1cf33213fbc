//! The fairness rule a desk calls by: preferential tickets before normal
//! ones, but never more than `max_preferential_streak` preferential calls
//! in a row while a normal ticket waits, so normal patients are not starved
//! on a busy morning. Within a class, tickets go by rank (80+ first), then
//! by arrival.
//!
//! The streak is counted per desk: each desk remembers how many
//! preferential tickets it called in a row, and a desk's calls are
//! serialised by its row lock, so the count is exact without a unit-wide
//! lock. The "2 to 1" of many clinics is the default, a convention rather
//! than law, so each unit may change it.

/// Normal or preferential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Normal,
    Preferential,
}

/// The most preferential calls in a row while normal tickets wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FairnessRule {
    max_preferential_streak: u32,
}

impl FairnessRule {
    /// The default streak: two preferential calls, then a normal one.
    pub const DEFAULT_STREAK: u32 = 2;
    /// A longer streak would let a unit starve normal tickets in practice.
    pub const MAX_STREAK: u32 = 10;

    /// A rule allowing `streak` preferential calls in a row (1 to 10; 0
    /// means the default).
    pub fn new(streak: i32) -> Result<Self, String> {
        match u32::try_from(streak) {
            Ok(0) => Ok(Self::default()),
            Ok(n) if n <= Self::MAX_STREAK => Ok(Self {
                max_preferential_streak: n,
            }),
            _ => Err(format!(
                "1 to {}, or 0 for {}",
                Self::MAX_STREAK,
                Self::DEFAULT_STREAK
            )),
        }
    }

    /// The streak allowed.
    pub fn max_preferential_streak(self) -> u32 {
        self.max_preferential_streak
    }

    /// Which class the desk calls next, given how many preferential calls it
    /// just made in a row and what is waiting; `None` when nothing waits.
    pub fn next_class(
        self,
        preferential_streak: u32,
        preferential_waiting: bool,
        normal_waiting: bool,
    ) -> Option<Class> {
        match (preferential_waiting, normal_waiting) {
            (false, false) => None,
            (true, false) => Some(Class::Preferential),
            (false, true) => Some(Class::Normal),
            (true, true) if preferential_streak < self.max_preferential_streak => {
                Some(Class::Preferential)
            }
            (true, true) => Some(Class::Normal),
        }
    }

    /// The desk's streak after calling a ticket of `class`.
    pub fn streak_after(preferential_streak: u32, class: Class) -> u32 {
        match class {
            Class::Preferential => preferential_streak.saturating_add(1),
            Class::Normal => 0,
        }
    }
}

impl Default for FairnessRule {
    fn default() -> Self {
        Self {
            max_preferential_streak: Self::DEFAULT_STREAK,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Class::{Normal as N, Preferential as P};
    use super::*;

    /// Calls every ticket in `waiting` (classes in arrival order) with
    /// `rule`, returning the order they were called in.
    fn call_all(rule: FairnessRule, waiting: &[(Class, &'static str)]) -> Vec<&'static str> {
        let mut waiting = waiting.to_vec();
        let mut streak = 0;
        let mut called = Vec::new();
        while let Some(class) = rule.next_class(
            streak,
            waiting.iter().any(|(c, _)| *c == P),
            waiting.iter().any(|(c, _)| *c == N),
        ) {
            let at = waiting.iter().position(|(c, _)| *c == class).unwrap();
            called.push(waiting.remove(at).1);
            streak = FairnessRule::streak_after(streak, class);
        }
        called
    }

    #[test]
    fn a_run_of_preferential_tickets_lets_a_normal_one_through_every_two() {
        let waiting = [
            (N, "A001"),
            (N, "A002"),
            (P, "A003"),
            (P, "A004"),
            (P, "A005"),
            (P, "A006"),
            (P, "A007"),
        ];
        assert_eq!(
            call_all(FairnessRule::default(), &waiting),
            ["A003", "A004", "A001", "A005", "A006", "A002", "A007"]
        );
    }

    #[test]
    fn the_streak_is_configurable() {
        let waiting = [(N, "A001"), (P, "A002"), (P, "A003"), (P, "A004")];
        assert_eq!(
            call_all(FairnessRule::new(1).unwrap(), &waiting),
            ["A002", "A001", "A003", "A004"]
        );
        assert_eq!(
            call_all(FairnessRule::new(3).unwrap(), &waiting),
            ["A002", "A003", "A004", "A001"]
        );
    }

    #[test]
    fn with_one_class_waiting_the_rule_calls_it_in_arrival_order() {
        let only_normal = [(N, "A001"), (N, "A002")];
        assert_eq!(
            call_all(FairnessRule::default(), &only_normal),
            ["A001", "A002"]
        );
        let only_preferential = [(P, "A001"), (P, "A002"), (P, "A003")];
        assert_eq!(
            call_all(FairnessRule::default(), &only_preferential),
            ["A001", "A002", "A003"],
            "no normal ticket waits, so the streak does not stop them"
        );
        assert_eq!(FairnessRule::default().next_class(0, false, false), None);
    }

    #[test]
    fn streaks_outside_one_to_ten_are_refused() {
        assert_eq!(FairnessRule::new(0).unwrap().max_preferential_streak(), 2);
        assert_eq!(FairnessRule::new(10).unwrap().max_preferential_streak(), 10);
        assert!(FairnessRule::new(11).is_err());
        assert!(FairnessRule::new(-1).is_err());
    }
}
