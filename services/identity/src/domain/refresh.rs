//! Refresh-token rotation (RFC 9700 §4.14): every use issues a new token in
//! the same family and spends the old one; presenting a spent token means it
//! was stolen or replayed, so the whole family is revoked.

use chrono::{DateTime, Utc};

/// What the store knows about a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshState {
    /// When it stops being usable.
    pub expires_at: DateTime<Utc>,
    /// Set once it has been exchanged.
    pub used_at: Option<DateTime<Utc>>,
    /// Set when its family was revoked (logout or detected reuse).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Spend it and issue the next token of the family.
    Rotate,
    /// It was already spent: revoke the family and refuse.
    ReuseDetected,
    /// Its family is revoked: refuse.
    Revoked,
    /// Past its expiry: refuse.
    Expired,
}

impl RefreshState {
    /// The decision at `now`.
    pub fn decide(&self, now: DateTime<Utc>) -> RefreshOutcome {
        if self.revoked_at.is_some() {
            RefreshOutcome::Revoked
        } else if self.used_at.is_some() {
            RefreshOutcome::ReuseDetected
        } else if self.expires_at <= now {
            RefreshOutcome::Expired
        } else {
            RefreshOutcome::Rotate
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn fresh(now: DateTime<Utc>) -> RefreshState {
        RefreshState {
            expires_at: now + Duration::days(30),
            used_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn an_unused_token_rotates() {
        let now = Utc::now();
        assert_eq!(fresh(now).decide(now), RefreshOutcome::Rotate);
    }

    #[test]
    fn a_spent_token_is_reuse() {
        let now = Utc::now();
        let spent = RefreshState {
            used_at: Some(now),
            ..fresh(now)
        };
        assert_eq!(spent.decide(now), RefreshOutcome::ReuseDetected);
    }

    #[test]
    fn revocation_wins_over_everything() {
        let now = Utc::now();
        let revoked = RefreshState {
            used_at: Some(now),
            revoked_at: Some(now),
            ..fresh(now)
        };
        assert_eq!(revoked.decide(now), RefreshOutcome::Revoked);
    }

    #[test]
    fn expired_tokens_are_refused() {
        let now = Utc::now();
        let old = RefreshState {
            expires_at: now - Duration::seconds(1),
            ..fresh(now)
        };
        assert_eq!(old.decide(now), RefreshOutcome::Expired);
    }
}
