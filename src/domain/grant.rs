//! A grant: one user may read some kinds of one child's papers, for one
//! purpose, until a time. It ends by itself; revocation ends it at once.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{ChildId, DocKind, GrantId, Purpose, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Grant {
    pub id: GrantId,
    /// Who may read.
    pub user: UserId,
    pub child: ChildId,
    pub kinds: Vec<DocKind>,
    pub purpose: Purpose,
    pub until: DateTime<Utc>,
    /// Opaque label of who granted it.
    pub granted_by: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Grant {
    /// Neither expired nor revoked at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.until
    }

    /// `active`, `expired` or `revoked`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if now >= self.until {
            "expired"
        } else {
            "active"
        }
    }
}

/// The end of a grant as people write it: `YYYY-MM-DD` means to the end of
/// that day in India (UTC+05:30); otherwise an RFC 3339 time.
pub fn parse_until(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let ist = chrono::FixedOffset::east_opt(5 * 3600 + 1800).expect("valid offset");
        let end = day.and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("valid time"));
        return ist
            .from_local_datetime(&end)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("invalid date {s}"));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{s}: expected YYYY-MM-DD or an RFC 3339 time"))
}
