//! Closed sets stored as text (statuses, ledger kinds): one fallible way to
//! read them back, so a stored value this build does not know — one written
//! by a newer version during a rolling deploy, or by hand — is an error,
//! never silently read as some default.

use std::fmt;

use crate::error::ServiceError;

/// A closed set of values stored by name (a `CHECK (status IN (...))` column).
pub trait StoredName: Copy + Sized + 'static {
    /// What the values are, for the log (`"order status"`).
    const KIND: &'static str;
    /// Every value.
    const ALL: &'static [Self];

    /// The stored name.
    fn as_str(self) -> &'static str;

    /// The value stored as `stored`, or an error naming it.
    fn from_stored(stored: &str) -> Result<Self, UnknownStored> {
        Self::ALL
            .iter()
            .copied()
            .find(|known| known.as_str() == stored)
            .ok_or_else(|| UnknownStored {
                kind: Self::KIND,
                value: stored.to_owned(),
            })
    }
}

/// A stored name outside the set this build knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStored {
    /// What kind of value it should have been.
    pub kind: &'static str,
    /// The stored text, as found.
    pub value: String,
}

impl fmt::Display for UnknownStored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown stored {} {:?}", self.kind, self.value)
    }
}

impl std::error::Error for UnknownStored {}

/// Our data, not the caller's request: `INTERNAL`, logged with the value and
/// answered with an incident id (see [`crate::error`]).
impl From<UnknownStored> for ServiceError {
    fn from(error: UnknownStored) -> Self {
        Self::Internal(anyhow::Error::new(error))
    }
}

/// The rows of a list that `read` can read, in order. A row it cannot (a
/// stored name this build does not know) is logged as a `what` with its `id`
/// and left out, so one bad row never breaks a whole list; reading one row
/// alone stays an error.
pub fn readable_rows<R, T>(
    what: &'static str,
    rows: impl IntoIterator<Item = R>,
    id: impl Fn(&R) -> String,
    mut read: impl FnMut(R) -> Result<T, UnknownStored>,
) -> Vec<T> {
    rows.into_iter()
        .filter_map(|row| {
            let id = id(&row);
            read(row)
                .inspect_err(|error| tracing::error!(what, id, %error, "row left out of a list"))
                .ok()
        })
        .collect()
}

/// Asserts that every value of `T` round-trips through its stored name and
/// that the names are distinct; for each implementation's unit test.
pub fn assert_round_trips<T: StoredName + PartialEq + fmt::Debug>() {
    for value in T::ALL {
        assert_eq!(T::from_stored(value.as_str()), Ok(*value), "{value:?}");
    }
    let mut names: Vec<_> = T::ALL.iter().map(|v| v.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), T::ALL.len(), "{} names are distinct", T::KIND);
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Light {
        Red,
        Green,
    }

    impl StoredName for Light {
        const KIND: &'static str = "light";
        const ALL: &'static [Self] = &[Self::Red, Self::Green];

        fn as_str(self) -> &'static str {
            match self {
                Self::Red => "red",
                Self::Green => "green",
            }
        }
    }

    #[test]
    fn known_names_round_trip() {
        assert_round_trips::<Light>();
    }

    #[test]
    fn a_list_leaves_out_the_rows_it_cannot_read_and_keeps_the_order() {
        let rows = [(1, "red"), (2, "amber"), (3, "green")];
        let read = readable_rows(
            "light",
            rows,
            |(id, _)| id.to_string(),
            |(_, name)| Light::from_stored(name),
        );
        assert_eq!(read, [Light::Red, Light::Green]);
    }

    #[test]
    fn an_unknown_name_is_an_internal_error_naming_it() {
        let error = Light::from_stored("amber").unwrap_err();
        assert_eq!(error.to_string(), "unknown stored light \"amber\"");
        let status = tonic::Status::from(ServiceError::from(error));
        assert_eq!(status.code(), Code::Internal);
        assert!(
            !status.message().contains("amber"),
            "internals stay in the log"
        );
        assert!(status.message().contains("incident"));
    }
}
