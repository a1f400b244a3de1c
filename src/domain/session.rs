//! A signed-in session of a person at a browser, as the node keeps it:
//! never the session's secret, only its digest (in the store), its user,
//! and when it started and was last used. It ends after a time without
//! use (idle) and a time after its start (absolute), whichever is first.

use chrono::{DateTime, Duration, Utc};

use super::{Language, SessionId, UserId};

/// One live session of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub user: UserId,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The user's chosen language (`None`: not chosen yet).
    pub language: Option<Language>,
}

impl SessionInfo {
    /// Whether the session has ended at `now`, given the idle and the
    /// absolute limits.
    pub fn has_ended(&self, now: DateTime<Utc>, idle: Duration, absolute: Duration) -> bool {
        now >= self.last_seen + idle || now >= self.created_at + absolute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_at_the_first_limit() {
        let t0 = Utc::now();
        let s = SessionInfo {
            id: SessionId::new(),
            user: UserId::new(),
            created_at: t0,
            last_seen: t0 + Duration::hours(7),
            language: None,
        };
        let (idle, abs) = (Duration::minutes(30), Duration::hours(8));
        assert!(!s.has_ended(t0 + Duration::hours(7) + Duration::minutes(29), idle, abs));
        assert!(s.has_ended(t0 + Duration::hours(7) + Duration::minutes(30), idle, abs));
        let fresh = SessionInfo {
            last_seen: t0 + Duration::hours(8),
            ..s
        };
        assert!(fresh.has_ended(t0 + Duration::hours(8), idle, abs));
    }
}
