//! Temporary lockout after repeated failed logins. Failures are counted per
//! username as typed, whether or not the account exists, so the lockout
//! itself reveals nothing about which usernames are real.

use chrono::{DateTime, Duration, Utc};

/// How many failures lock a username, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    /// Consecutive failures that trigger a lock.
    pub max_failures: i32,
    /// How long the lock lasts.
    pub lock_for: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            lock_for: Duration::minutes(15),
        }
    }
}

/// The failure record of one username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    /// Consecutive failures so far.
    pub count: i32,
    /// Locked until this instant, if locked.
    pub locked_until: Option<DateTime<Utc>>,
}

impl LockoutPolicy {
    /// True when logins for this username are refused at `now`.
    pub fn is_locked(&self, failures: &Failures, now: DateTime<Utc>) -> bool {
        failures.locked_until.is_some_and(|until| until > now)
    }

    /// The record after one more failure at `now`.
    pub fn after_failure(&self, failures: &Failures, now: DateTime<Utc>) -> Failures {
        // A lock that has run out starts a fresh count.
        let count = if failures.locked_until.is_some_and(|u| u <= now) {
            1
        } else {
            failures.count + 1
        };
        Failures {
            count,
            locked_until: (count >= self.max_failures).then(|| now + self.lock_for),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_fifth_failure_and_unlocks_after_the_period() {
        let policy = LockoutPolicy::default();
        let now = Utc::now();
        let mut f = Failures::default();
        for _ in 0..4 {
            f = policy.after_failure(&f, now);
            assert!(!policy.is_locked(&f, now));
        }
        f = policy.after_failure(&f, now);
        assert!(policy.is_locked(&f, now));
        assert!(policy.is_locked(&f, now + Duration::minutes(14)));
        assert!(!policy.is_locked(&f, now + Duration::minutes(16)));
    }

    #[test]
    fn a_failure_after_the_lock_expired_starts_counting_again() {
        let policy = LockoutPolicy::default();
        let now = Utc::now();
        let locked = Failures {
            count: 5,
            locked_until: Some(now - Duration::seconds(1)),
        };
        let f = policy.after_failure(&locked, now);
        assert_eq!(f.count, 1);
        assert!(!policy.is_locked(&f, now));
    }
}
