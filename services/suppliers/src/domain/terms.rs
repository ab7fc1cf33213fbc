//! The terms on which a supplier supplies a product: its price and lead time.

/// The longest lead time accepted, in days.
pub const MAX_LEAD_TIME_DAYS: i32 = 365;

/// A unit price in centavos: zero (a free sample) or more.
pub fn price_problem(centavos: i64) -> Option<&'static str> {
    (centavos < 0).then_some("must not be negative")
}

/// Days from order to delivery: 0 (same day) to [`MAX_LEAD_TIME_DAYS`].
pub fn lead_time_problem(days: i32) -> Option<&'static str> {
    (!(0..=MAX_LEAD_TIME_DAYS).contains(&days)).then_some("0 to 365 days")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_not_negative() {
        assert_eq!(price_problem(0), None);
        assert_eq!(price_problem(1234), None);
        assert!(price_problem(-1).is_some());
    }

    #[test]
    fn lead_times_stay_within_a_year() {
        assert_eq!(lead_time_problem(0), None);
        assert_eq!(lead_time_problem(365), None);
        assert!(lead_time_problem(-1).is_some());
        assert!(lead_time_problem(366).is_some());
    }
}
