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

/// The cookie that carries a session's secret: `__Host-handover` (which
/// browsers accept only with `Secure`, path `/` and no domain) under TLS,
/// `handover` otherwise. The pages set it; the API's resumable uploads
/// accept it too.
pub fn session_cookie_name(tls: bool) -> &'static str {
    if tls {
        "__Host-handover"
    } else {
        "handover"
    }
}

/// The form token bound to a session secret (or to the pre-login
/// cookie): `base64url(SHA-256("handover form token v1\0" || secret))`.
/// Another site can neither read the cookie nor compute the token.
pub fn form_token(secret: &str) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"handover form token v1\0");
    h.update(secret.as_bytes());
    Base64UrlUnpadded::encode_string(&h.finalize())
}

/// Whether a request a browser sent comes from this node's own origin:
/// `Sec-Fetch-Site: same-origin`; or, from a browser that does not send
/// it, an `Origin` that is this node's (`scheme://Host` of the request,
/// or the public URL's origin).
pub fn same_origin(
    sec_fetch_site: Option<&[u8]>,
    origin: Option<&str>,
    host: Option<&str>,
    tls: bool,
    public_origin: Option<&str>,
) -> bool {
    if let Some(site) = sec_fetch_site {
        return site == b"same-origin";
    }
    let Some(origin) = origin else {
        return false;
    };
    let scheme = if tls { "https" } else { "http" };
    host.map(|h| format!("{scheme}://{h}")).as_deref() == Some(origin)
        || public_origin == Some(origin)
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
