//! What the operations guide's alerts watch (`docs/OPERATIONS.md`,
//! "Monitoring"): pushes waiting, retrying and given up, transfers sent but
//! not yet delivered and the oldest of them, failed audit writes, and the
//! space left where the data directory lives. Read at each scrape of
//! `/metrics`; counts and times only, never an id or a name.

use chrono::Utc;
use serde::Serialize;

use super::{Vault, VaultError};

/// One reading of the operational gauges.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OperationsGauges {
    /// Pushes (bundles and receipts) not yet delivered nor given up.
    pub outbox_pending: u64,
    /// Of those, the ones that failed at least once.
    pub outbox_retrying: u64,
    /// Pushes given up (after `push_give_up_hours`).
    pub outbox_given_up: u64,
    /// Transfers sent whose receipt has not come back.
    pub transfers_undelivered: u64,
    /// Seconds since the oldest of them was sent (0 when none).
    pub oldest_undelivered_secs: u64,
    /// Audit appends that failed since this process opened the node.
    pub audit_write_errors: u64,
    /// Bytes free (for this user) on the data directory's file system.
    pub data_free_bytes: u64,
    /// Size of that file system.
    pub data_total_bytes: u64,
}

impl Vault {
    /// The operational gauges, now.
    pub fn operations_gauges(&self) -> Result<OperationsGauges, VaultError> {
        let d = self.db.delivery_gauges()?;
        let (free, total) = disk_space(self.data_dir()).unwrap_or((0, 0));
        Ok(OperationsGauges {
            outbox_pending: d.outbox_pending,
            outbox_retrying: d.outbox_retrying,
            outbox_given_up: d.outbox_given_up,
            transfers_undelivered: d.transfers_undelivered,
            oldest_undelivered_secs: d
                .oldest_undelivered
                .map(|t| (Utc::now() - t).num_seconds().max(0) as u64)
                .unwrap_or(0),
            audit_write_errors: self.audit.write_errors(),
            data_free_bytes: free,
            data_total_bytes: total,
        })
    }
}

/// Free and total bytes of the file system holding `dir` (statvfs).
fn disk_space(dir: &std::path::Path) -> Option<(u64, u64)> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some((st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize))
}
