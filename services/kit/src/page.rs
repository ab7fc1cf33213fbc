//! Page tokens for list RPCs: opaque to clients, a keyset position inside.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ServiceError;

/// Default and maximum page sizes.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Larger requests are clamped to this.
pub const MAX_PAGE_SIZE: i64 = 500;

/// A page request after validation: how many rows and after which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows to return (one more is fetched to know whether a next page exists).
    pub size: i64,
    /// Keyset position: the last key of the previous page.
    pub after: Option<String>,
}

impl PageRequest {
    /// Validates `page_size` (0 = default; negative is refused) and decodes the token.
    pub fn parse(page_size: i32, page_token: &str) -> Result<Self, ServiceError> {
        if page_size < 0 {
            return Err(ServiceError::invalid("page_size", "must not be negative"));
        }
        let size = match i64::from(page_size) {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            let bytes = URL_SAFE_NO_PAD
                .decode(page_token)
                .map_err(|_| ServiceError::invalid("page_token", "not a token from this API"))?;
            let key = String::from_utf8(bytes)
                .ok()
                // Keys are ids and names we wrote; a NUL (PostgreSQL refuses
                // it in text) or any control character means a forged token.
                .filter(|key| !key.chars().any(char::is_control))
                .ok_or_else(|| ServiceError::invalid("page_token", "not a token from this API"))?;
            Some(key)
        };
        Ok(Self { size, after })
    }

    /// Like [`PageRequest::parse`], but records the violations in `v` with
    /// the request's others (so one reply names every bad field); the page
    /// returned then is never queried, because `v` fails the request first.
    pub fn parse_into(
        v: &mut crate::validate::Violations,
        page_size: i32,
        page_token: &str,
    ) -> Self {
        Self::parse(page_size, page_token).unwrap_or_else(|error| {
            if let ServiceError::InvalidArgument(violations) = error {
                for violation in violations {
                    v.add(violation.field, violation.description);
                }
            }
            Self {
                size: 1,
                after: None,
            }
        })
    }

    /// Cuts the fetched rows (`size + 1` at most) to a page and the next token.
    pub fn finish<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, String) {
        let limit = usize::try_from(self.size).unwrap_or(usize::MAX);
        if rows.len() > limit {
            rows.truncate(limit);
            let token = rows
                .last()
                .map(|r| URL_SAFE_NO_PAD.encode(key(r)))
                .unwrap_or_default();
            (rows, token)
        } else {
            (rows, String::new())
        }
    }

    /// The keyset position parsed as `T` (a UUID, a sequence number...);
    /// a token that does not parse is refused as INVALID_ARGUMENT.
    pub fn after_as<T: std::str::FromStr>(&self) -> Result<Option<T>, ServiceError> {
        self.after
            .as_deref()
            .map(str::parse::<T>)
            .transpose()
            .map_err(|_| ServiceError::invalid("page_token", "not a token from this API"))
    }

    /// The `LIMIT` to query with: one more than the page.
    pub fn fetch_limit(&self) -> i64 {
        self.size + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_into_records_every_page_violation() {
        let mut v = crate::validate::Violations::new();
        let page = PageRequest::parse_into(&mut v, 5, "");
        assert_eq!(page.size, 5);
        assert!(v.finish().is_ok());
        let mut v = crate::validate::Violations::new();
        PageRequest::parse_into(&mut v, -1, "");
        v.add("query", "too long");
        let ServiceError::InvalidArgument(violations) = v.finish().unwrap_err() else {
            panic!("invalid argument")
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["page_size", "query"]);
    }

    #[test]
    fn pages_round_trip_through_the_token() {
        let page = PageRequest::parse(2, "").unwrap();
        let (rows, token) = page.finish(vec![1, 2, 3], |n| n.to_string());
        assert_eq!(rows, [1, 2]);
        let next = PageRequest::parse(2, &token).unwrap();
        assert_eq!(next.after.as_deref(), Some("2"));
        let (rows, token) = next.finish(vec![3], |n| n.to_string());
        assert_eq!(rows, [3]);
        assert!(token.is_empty());
    }

    #[test]
    fn keyset_positions_parse_or_are_refused() {
        let page = PageRequest::parse(1, "").unwrap();
        let (_, token) = page.finish(vec![7_i64, 8], i64::to_string);
        let next = PageRequest::parse(1, &token).unwrap();
        assert_eq!(next.after_as::<i64>().unwrap(), Some(7));
        assert!(next.after_as::<uuid::Uuid>().is_err());
        assert_eq!(page.after_as::<i64>().unwrap(), None);
    }

    #[test]
    fn refuses_negative_sizes_and_forged_tokens() {
        assert!(PageRequest::parse(-1, "").is_err());
        assert!(PageRequest::parse(10, "%%%").is_err());
        // "AAAA" decodes to three NUL bytes: valid UTF-8, refused all the same.
        assert!(PageRequest::parse(10, "AAAA").is_err());
        assert!(PageRequest::parse(10, &URL_SAFE_NO_PAD.encode("a\u{1b}b")).is_err());
        assert_eq!(PageRequest::parse(10_000, "").unwrap().size, MAX_PAGE_SIZE);
    }
}
