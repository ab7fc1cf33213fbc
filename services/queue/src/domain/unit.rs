//! A unit's time zone: it decides the local day its ticket codes belong to.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

/// Where a unit is when none is given: most of Malha's clinics are on
/// Brasília time.
pub const DEFAULT_TIME_ZONE: &str = "America/Sao_Paulo";

/// An IANA time zone (`America/Manaus`), parsed from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    /// The zone named `name`; empty means [`DEFAULT_TIME_ZONE`].
    pub fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        let name = if name.is_empty() {
            DEFAULT_TIME_ZONE
        } else {
            name
        };
        name.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| format!("{name:?} is not an IANA time zone (e.g. America/Sao_Paulo)"))
    }

    /// The IANA name, as stored.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The calendar day it is at `at` in this zone: the day whose ticket
    /// sequence a ticket issued then belongs to.
    pub fn local_date(self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.0).date_naive()
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    #[test]
    fn defaults_to_sao_paulo_and_refuses_unknown_zones() {
        assert_eq!(TimeZone::parse("").unwrap().name(), "America/Sao_Paulo");
        assert_eq!(
            TimeZone::parse("America/Manaus").unwrap().name(),
            "America/Manaus"
        );
        assert!(TimeZone::parse("Brazil/Nowhere").is_err());
    }

    #[test]
    fn the_local_day_turns_at_the_units_midnight_not_at_utcs() {
        let sao_paulo = TimeZone::parse("America/Sao_Paulo").unwrap();
        // 23:59:59 in São Paulo (UTC-3) is 02:59:59 UTC of the next day.
        assert_eq!(sao_paulo.local_date(utc("2026-12-02T02:59:59Z")), day(1));
        assert_eq!(sao_paulo.local_date(utc("2026-12-02T03:00:00Z")), day(2));
        // Manaus (UTC-4) is still on the 1st half an hour later.
        let manaus = TimeZone::parse("America/Manaus").unwrap();
        assert_eq!(manaus.local_date(utc("2026-12-02T03:30:00Z")), day(1));
        assert_eq!(manaus.local_date(utc("2026-12-02T04:00:00Z")), day(2));
    }
}
