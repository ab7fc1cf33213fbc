//! Account activation: the state a user is in, and when a pending user may be
//! sent another activation e-mail.

use std::time::Duration;

use chrono::{DateTime, Utc};
use malha_kit::stored::{StoredName, UnknownStored};

/// `ErrorInfo.reason` of a login refused until the account is activated.
pub const ACTIVATION_REQUIRED: &str = "ACTIVATION_REQUIRED";

/// Whether a user may log in yet (`users.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserState {
    /// Created by an administrator; activates through its e-mail.
    Pending,
    /// Logs in.
    Active,
}

impl StoredName for UserState {
    const KIND: &'static str = "user state";
    const ALL: &'static [Self] = &[Self::Pending, Self::Active];

    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
        }
    }
}

/// Read straight from a row (`#[sqlx(try_from = "String")]`): a state this
/// build does not know fails the query instead of reading as either.
impl TryFrom<String> for UserState {
    type Error = UnknownStored;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        Self::from_stored(&stored)
    }
}

/// How long a code works and how often a pending user may ask for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivationPolicy {
    /// A code expires this long after it was sent.
    pub code_ttl: Duration,
    /// Login attempts within this long of the last e-mail send none.
    pub resend_after: Duration,
}

impl Default for ActivationPolicy {
    fn default() -> Self {
        Self {
            code_ttl: Duration::from_secs(24 * 3600),
            resend_after: Duration::from_secs(60),
        }
    }
}

impl ActivationPolicy {
    /// True when a pending user last sent an e-mail at `last` (if ever) may be
    /// sent another at `now`.
    pub fn may_resend(&self, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        last.is_none_or(|last| {
            (now - last)
                .to_std()
                .is_ok_and(|elapsed| elapsed >= self.resend_after)
        })
    }

    /// When a code sent at `now` stops working.
    pub fn expiry(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.code_ttl).unwrap_or(chrono::Duration::days(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_stored_names() {
        malha_kit::stored::assert_round_trips::<UserState>();
        assert!(UserState::try_from("locked".to_owned()).is_err());
    }

    #[test]
    fn another_email_waits_for_the_resend_interval() {
        let policy = ActivationPolicy {
            code_ttl: Duration::from_secs(600),
            resend_after: Duration::from_secs(60),
        };
        let now = Utc::now();
        assert!(policy.may_resend(None, now));
        assert!(!policy.may_resend(Some(now - chrono::Duration::seconds(59)), now));
        assert!(policy.may_resend(Some(now - chrono::Duration::seconds(60)), now));
        // A clock that stepped back never sends a burst.
        assert!(!policy.may_resend(Some(now + chrono::Duration::seconds(5)), now));
        assert_eq!(policy.expiry(now), now + chrono::Duration::seconds(600));
    }
}
