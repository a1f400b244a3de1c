//! The vault's clock: what "now" is for token expiry, sessions and grants.
//! The system clock in a running node; tests put in a clock they move by
//! hand ([`Vault::set_clock`]), so expiry is shown without sleeping.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use super::Vault;

/// A source of the current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The vault's handle on its clock.
pub(super) struct VaultClock(RwLock<Arc<dyn Clock>>);

impl Default for VaultClock {
    fn default() -> Self {
        VaultClock(RwLock::new(Arc::new(SystemClock)))
    }
}

impl Vault {
    /// Now, by the vault's clock.
    pub(super) fn now(&self) -> DateTime<Utc> {
        let clock = self.clock.0.read().unwrap_or_else(|p| p.into_inner());
        clock.now()
    }

    /// Replaces the vault's clock (tests: a clock moved by hand).
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        *self.clock.0.write().unwrap_or_else(|p| p.into_inner()) = clock;
    }
}
