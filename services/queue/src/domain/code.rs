//! Service letters and ticket codes: `A001` is the first ticket of the day
//! of the service with letter A.

use std::fmt;

/// A service's letter, A to Z, stored in uppercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Letter(char);

impl Letter {
    /// One ASCII letter in either case.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let mut chars = value.trim().chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_alphabetic() => Ok(Self(c.to_ascii_uppercase())),
            (None, _) => Err("required"),
            _ => Err("one letter, A to Z"),
        }
    }

    /// The letter as stored.
    pub fn as_char(self) -> char {
        self.0
    }
}

impl fmt::Display for Letter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A ticket's code: its service's letter and its number in that service's
/// sequence of the unit's local day, which starts at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketCode {
    pub letter: Letter,
    pub number: u32,
}

impl fmt::Display for TicketCode {
    /// Three digits at least, as panels and printed tickets show them; a
    /// thousandth ticket in one day gets four rather than wrapping to a
    /// code already called.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:03}", self.letter, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_one_ascii_letter_in_uppercase() {
        assert_eq!(Letter::parse("a").unwrap().as_char(), 'A');
        assert_eq!(Letter::parse(" Z ").unwrap().as_char(), 'Z');
        assert_eq!(Letter::parse(""), Err("required"));
        assert!(Letter::parse("AB").is_err());
        assert!(Letter::parse("1").is_err());
        assert!(Letter::parse("Ç").is_err());
    }

    #[test]
    fn codes_have_at_least_three_digits() {
        let letter = Letter::parse("A").unwrap();
        let code = |number| TicketCode { letter, number }.to_string();
        assert_eq!(code(1), "A001");
        assert_eq!(code(42), "A042");
        assert_eq!(code(999), "A999");
        assert_eq!(code(1000), "A1000");
    }
}
