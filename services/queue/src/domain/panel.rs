//! The TV panel's rules: how many calls a snapshot shows, and the cursor a
//! panel resumes from (the position of the last call it was sent).

/// How many calls a snapshot holds when the request does not say.
pub const RECENT_DEFAULT: usize = 6;
/// The most calls a snapshot holds.
pub const RECENT_MAX: usize = 20;

/// How many calls a snapshot holds: 1 to [`RECENT_MAX`], 0 meaning
/// [`RECENT_DEFAULT`].
pub fn recent(requested: i32) -> Result<usize, String> {
    match usize::try_from(requested) {
        Ok(0) => Ok(RECENT_DEFAULT),
        Ok(n) if n <= RECENT_MAX => Ok(n),
        _ => Err(format!(
            "between 0 (the default, {RECENT_DEFAULT}) and {RECENT_MAX}"
        )),
    }
}

/// A panel position: 0 before the unit's first call, then one more per
/// call or recall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor(i64);

impl Cursor {
    /// Before the first call.
    pub const START: Cursor = Cursor(0);

    /// The cursor a client sent: the decimal text of a position.
    pub fn parse(text: &str) -> Result<Cursor, String> {
        const WHAT: &str = "a cursor received from this panel";
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WHAT.to_owned());
        }
        text.parse().map(Cursor).map_err(|_| WHAT.to_owned())
    }

    /// The cursor of the call at `position`.
    pub fn at(position: i64) -> Cursor {
        Cursor(position.max(0))
    }

    /// The stored position.
    pub fn position(self) -> i64 {
        self.0
    }

    /// Whether a client may resume from here on a panel whose last call is
    /// at `head` (a cursor from the future came from another database).
    pub fn fits(self, head: Cursor) -> bool {
        self <= head
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_defaults_and_stays_within_bounds() {
        assert_eq!(recent(0), Ok(RECENT_DEFAULT));
        assert_eq!(recent(1), Ok(1));
        assert_eq!(recent(20), Ok(20));
        assert!(recent(21).is_err());
        assert!(recent(-1).is_err());
    }

    #[test]
    fn a_cursor_is_a_decimal_position_that_round_trips() {
        assert_eq!(Cursor::parse("0"), Ok(Cursor::START));
        assert_eq!(Cursor::parse(" 42 ").unwrap().position(), 42);
        assert_eq!(Cursor::at(42).to_string(), "42");
        for bad in ["", "-1", "+1", "1.5", "abc", "99999999999999999999"] {
            assert!(Cursor::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_cursor_beyond_the_last_call_does_not_fit() {
        let head = Cursor::at(5);
        assert!(Cursor::at(5).fits(head));
        assert!(Cursor::START.fits(head));
        assert!(!Cursor::at(6).fits(head));
    }
}
