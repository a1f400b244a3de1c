//! Failed logins, counted so that guessing is slow and nobody can lock a
//! user out. Every attempt is counted *before* its password is hashed (so
//! concurrent guesses cannot all slip past the check), and a success takes
//! its count back. Counts are kept per user name and client together, per
//! client, and per user name:
//!
//! * past `per_user` failures of one name from one client, or
//!   `4 × per_user` from one client for any names, that client waits
//!   before each next try: 1 s, then 2 s, 4 s … at most 15 minutes;
//! * past `4 × per_user` failures of one name from all clients together,
//!   every client that has failed for that name waits the same way, while
//!   a client with no failures (the real user, elsewhere) is let through.
//!
//! Nothing locks out: the real user's right password from a clean client
//! always gets through. Counts live in memory and expire after 15 minutes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The most keys kept; past it the oldest are dropped (bounded memory
/// whatever names are tried).
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, IpAddr),
    Client(IpAddr),
    Name(String),
}

/// A login refused for now; try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

/// Failed-login counts of a node.
#[derive(Debug)]
pub struct LoginThrottle {
    per_user: u32,
    failures: Mutex<HashMap<Key, Vec<Instant>>>,
}

/// One counted attempt. Call [`Attempt::succeeded`] when the password
/// held; otherwise it stays counted as a failure.
#[must_use]
#[derive(Debug)]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    keys: [Key; 3],
    at: Instant,
}

impl Attempt<'_> {
    /// The password held: this attempt is not a failure, and earlier
    /// failures of this name from this client are forgotten.
    pub fn succeeded(self) {
        let mut map = self.throttle.lock();
        let [pair, client, name] = &self.keys;
        map.remove(pair);
        for key in [client, name] {
            if let Some(times) = map.get_mut(key) {
                if let Some(i) = times.iter().rposition(|t| *t == self.at) {
                    times.remove(i);
                }
            }
        }
    }
}

impl LoginThrottle {
    /// `per_user` failures of one name from one client before waits begin.
    pub fn new(per_user: u32) -> Self {
        LoginThrottle {
            per_user: per_user.max(1),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<Instant>>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an attempt of `name` from `client`, or refuses it for now.
    pub fn begin(&self, name: &str, client: IpAddr) -> Result<Attempt<'_>, Throttled> {
        let name = name.trim().to_lowercase();
        let keys = [
            Key::Pair(name.clone(), client),
            Key::Client(client),
            Key::Name(name),
        ];
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < WINDOW);
            !times.is_empty()
        });
        let count = |k: &Key| map.get(k).map_or(0, Vec::len) as u32;
        let last = |k: &Key| map.get(k).and_then(|t| t.last().copied());
        let (pair, client_n, name_n) = (count(&keys[0]), count(&keys[1]), count(&keys[2]));
        let mut wait = Duration::ZERO;
        let mut over = |n: u32, limit: u32, key: &Key| {
            if n >= limit {
                let backoff = Duration::from_secs(1u64 << (n - limit).min(10)).min(WINDOW);
                if let Some(last) = last(key) {
                    wait = wait.max(backoff.saturating_sub(now.duration_since(last)));
                }
            }
        };
        over(pair, self.per_user, &keys[0]);
        over(client_n, self.per_user * 4, &keys[1]);
        // Many failures for this name from everywhere: slow down only the
        // clients that took part.
        if pair > 0 {
            over(name_n, self.per_user * 4, &keys[2]);
        }
        if !wait.is_zero() {
            return Err(Throttled { retry_after: wait });
        }
        if map.len() + 3 > MAX_KEYS {
            let oldest = map
                .iter()
                .min_by_key(|(_, t)| t.last().copied())
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        for key in &keys {
            map.entry(key.clone()).or_default().push(now);
        }
        drop(map);
        Ok(Attempt {
            throttle: self,
            keys,
            at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn attempts_are_counted_before_they_are_checked() {
        let t = LoginThrottle::new(5);
        // Five attempts in flight at once: all counted, the sixth waits.
        let held: Vec<_> = (0..5)
            .map(|_| t.begin("asha", ip("10.0.0.1")).unwrap())
            .collect();
        assert!(t.begin("asha", ip("10.0.0.1")).is_err());
        drop(held);
    }

    #[test]
    fn a_clean_client_gets_through_after_many_failures_elsewhere() {
        let t = LoginThrottle::new(5);
        for n in 0..40 {
            let client = ip(&format!("10.0.{}.1", n % 8));
            let _ = t.begin("admin", client);
        }
        // Every failing client now waits…
        assert!(t.begin("admin", ip("10.0.0.1")).is_err());
        // …but the real user, from a client with no failures, does not.
        t.begin("admin", ip("192.168.1.20")).unwrap().succeeded();
        t.begin("Admin", ip("192.168.1.20")).unwrap().succeeded();
    }

    #[test]
    fn a_success_forgets_the_pair_and_takes_its_own_count_back() {
        let t = LoginThrottle::new(2);
        let _ = t.begin("meena", ip("10.0.0.9"));
        t.begin("meena", ip("10.0.0.9")).unwrap().succeeded();
        // One failure was forgotten with the pair; two more are allowed.
        let _ = t.begin("meena", ip("10.0.0.9")).unwrap();
        let _ = t.begin("meena", ip("10.0.0.9")).unwrap();
        let refused = t.begin("meena", ip("10.0.0.9")).unwrap_err();
        assert!(refused.retry_after <= Duration::from_secs(1));
    }
}
