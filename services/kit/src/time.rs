//! Conversions between `chrono` times and `google.protobuf.Timestamp`,
//! limited to the range a `Timestamp` allows (0001-01-01 to 9999-12-31):
//! requests outside it are refused on decoding (`malha_api::checks`), and a
//! stored time outside it (a row written before that check) is left out of
//! the response with a warning rather than breaking its encoding.

use chrono::{DateTime, Utc};
pub use malha_api::checks::{MAX_TIMESTAMP_SECONDS, MIN_TIMESTAMP_SECONDS, timestamp_in_range};
use prost_types::Timestamp;

/// A database time as a proto timestamp; `None` (logged) when it is outside
/// what a `Timestamp` may hold, so one bad row cannot break a whole list.
pub fn to_proto(at: DateTime<Utc>) -> Option<Timestamp> {
    let ts = Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    };
    if timestamp_in_range(&ts) {
        Some(ts)
    } else {
        tracing::warn!(time = %at, "stored time outside the Timestamp range left out of the response");
        None
    }
}

/// A proto timestamp as a time; `None` when out of range.
pub fn from_proto(ts: &Timestamp) -> Option<DateTime<Utc>> {
    if !timestamp_in_range(ts) {
        return None;
    }
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let now = Utc::now();
        assert_eq!(from_proto(&to_proto(now).unwrap()), Some(now));
        assert_eq!(
            from_proto(&Timestamp {
                seconds: 0,
                nanos: -1
            }),
            None
        );
    }

    #[test]
    fn times_outside_the_timestamp_range_are_not_converted() {
        let year_10000 = DateTime::from_timestamp(253_402_300_800, 0).unwrap();
        assert_eq!(to_proto(year_10000), None);
        assert_eq!(
            from_proto(&Timestamp {
                seconds: 253_402_300_800,
                nanos: 0
            }),
            None
        );
        assert!(to_proto(DateTime::from_timestamp(253_402_300_799, 0).unwrap()).is_some());
    }
}
