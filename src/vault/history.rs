//! A child's access history at scale: an index in the database of which
//! audit log lines name which child (`store::audit_index`), so one child's
//! page reads its own lines by offset instead of the whole log.
//!
//! The log stays the one truth. The index is caught up from the log before
//! every read, by the serve sweep and when the node opens; it is rebuilt
//! from the log when it is missing or out of step (the log does not go on
//! where the index's mark says, or a line read by offset is not the one
//! the index names); and `audit verify` checks it against the log line by
//! line ([`Vault::verify_audit_index`]). Catching up is idempotent, so two
//! processes on one node (serve and a command) may both do it.

use std::path::PathBuf;
use std::sync::Mutex;

use super::access::Note;
use super::{Vault, VaultError};
use crate::audit::{self, AuditError, Entry, Line};
use crate::domain::{ChildId, Page};
use crate::policy::Action;
use crate::store::IndexMark;

/// Rows written per transaction while catching up (bounds memory while a
/// log of millions of lines is indexed).
const FLUSH_ROWS: usize = 50_000;

/// One catch-up at a time in this process.
#[derive(Debug, Default)]
pub(super) struct IndexTurn(Mutex<()>);

/// Why a catch-up stopped short: the log does not go on from the mark.
const OUT_OF_STEP: &str = "the access-history index is out of step with the log";

impl Vault {
    fn audit_log_path(&self) -> PathBuf {
        self.data_dir().join(audit::LOG_FILE)
    }

    /// Who asked for what about `child`, when and why: up to `limit`
    /// decisions after line `after` (oldest first), or before line `after`
    /// (`newest_first`). The next page's cursor is the last line's number.
    pub fn access_log_page(
        &self,
        actor: &crate::domain::Principal,
        child: ChildId,
        after: Option<u64>,
        limit: usize,
        newest_first: bool,
    ) -> Result<Page<(Line, Entry)>, VaultError> {
        self.authorize_child(actor, Action::ReadAccessLog, child, Note::default())?;
        self.catch_up_audit_index()?;
        let wanted = child.to_string();
        for attempt in 0..2 {
            let mut rows = self
                .db
                .audit_index_page(child, after, limit + 1, newest_first)?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let offsets: Vec<u64> = rows.iter().map(|r| r.1).collect();
            let lines = audit::lines_at(&self.audit_log_path(), &offsets)?;
            let items: Option<Vec<(Line, Entry)>> = lines
                .into_iter()
                .zip(&rows)
                .map(|(found, (seq, _))| {
                    found.filter(|(l, e)| l.seq == *seq && e.child.as_deref() == Some(&wanted))
                })
                .collect();
            if let Some(items) = items {
                let next = more
                    .then(|| items.last().map(|(l, _)| l.seq.to_string()))
                    .flatten();
                return Ok(Page { items, next });
            }
            if attempt == 0 {
                tracing::warn!("{OUT_OF_STEP}; rebuilding it from the log");
                self.index_audit_log(true)?;
            }
        }
        Err(VaultError::Integrity(OUT_OF_STEP.into()))
    }

    /// Every decision about `child`, oldest first (the command line's
    /// whole history; pages through the index).
    pub fn access_log(
        &self,
        actor: &crate::domain::Principal,
        child: ChildId,
    ) -> Result<Vec<(Line, Entry)>, VaultError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.access_log_page(actor, child, after, 500, false)?;
            all.extend(page.items);
            match page.next {
                Some(n) => after = n.parse().ok(),
                None => return Ok(all),
            }
        }
    }

    /// Brings the index up to the end of the log; rebuilds it when it is
    /// missing or the log does not go on from its mark.
    pub fn catch_up_audit_index(&self) -> Result<(), VaultError> {
        // A line that does not follow the mark, or no line where the mark
        // points: the index is out of step (a log restored or replaced).
        match self.index_audit_log(false) {
            Err(VaultError::Audit(_)) => {
                tracing::warn!("{OUT_OF_STEP}; rebuilding it from the log");
                self.index_audit_log(true)
            }
            other => other,
        }
    }

    /// Indexes the log from the mark (or from its start, with `rebuild` or
    /// when there is no mark). Catching up adds rows to the index as it
    /// goes; rebuilding loads them in log order aside and swaps them in,
    /// sorted, at the end (so a log of millions of lines is indexed in
    /// minutes, and a rebuild cut short leaves the old index and mark).
    /// Returns an error when the log's line at the mark is not the one
    /// after the last indexed, or cannot be read.
    fn index_audit_log(&self, rebuild: bool) -> Result<(), VaultError> {
        let _turn = self
            .audit_index_turn
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let log = self.audit_log_path();
        let log_len = match std::fs::metadata(&log) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(AuditError::Read(e.to_string()).into()),
        };
        let start = match self.db.audit_index_mark()? {
            Some(m) if !rebuild && m.offset <= log_len => Some(m),
            _ => None,
        };
        let rebuilding = start.is_none();
        let mut mark = start.unwrap_or_default();
        if !rebuilding && mark.offset == log_len {
            return Ok(());
        }
        if rebuilding {
            self.db.audit_index_load_start()?;
        }
        let mut rows = Vec::new();
        let mut loaded = 0u64;
        let mut flush = |rows: &mut Vec<(ChildId, u64, u64)>, mark: &IndexMark| {
            if rebuilding {
                self.db.audit_index_load_add(rows)?;
                loaded += rows.len() as u64;
            } else {
                self.db.audit_index_add(rows, mark)?;
            }
            rows.clear();
            Ok::<(), VaultError>(())
        };
        let mut failed: Option<VaultError> = None;
        audit::scan_from(&log, mark.offset, |line| {
            let follows = line.seq == mark.seq + 1
                && (mark.seq == 0 && line.prev == audit::GENESIS || line.prev == mark.hash);
            if !follows {
                return Err(AuditError::Broken {
                    line: line.seq,
                    reason: OUT_OF_STEP.into(),
                });
            }
            if let Some(child) = line.child.as_deref().and_then(|c| c.parse().ok()) {
                rows.push((child, line.seq, line.offset));
            }
            mark = IndexMark {
                offset: line.end,
                seq: line.seq,
                hash: line.hash,
            };
            if rows.len() >= FLUSH_ROWS {
                if let Err(e) = flush(&mut rows, &mark) {
                    failed = Some(e);
                    return Err(AuditError::Read("cannot write the index".into()));
                }
            }
            Ok(())
        })
        .map_err(|e| failed.take().unwrap_or(VaultError::Audit(e)))?;
        flush(&mut rows, &mark)?;
        if rebuilding && !self.db.audit_index_load_finish(loaded, &mark)? {
            return Err(VaultError::Audit(AuditError::Read(
                "the access-history index was rebuilt by another process at the same time".into(),
            )));
        }
        Ok(())
    }

    /// Checks the index against the log: every decision naming a child,
    /// up to the index's mark, is in the index at its offset, and the
    /// index holds nothing else. One streaming pass over the log and one
    /// over the index compare a count and an order-free digest of the
    /// rows (the sum of each row's SHA-256, truncated to 128 bits); only
    /// when they differ, a slower pass looks each line up to name the
    /// first one that is wrong. Memory stays flat. Returns how many lines
    /// the index holds.
    pub fn verify_audit_index(&self) -> Result<u64, VaultError> {
        self.catch_up_audit_index()?;
        let _turn = self
            .audit_index_turn
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let Some(mark) = self.db.audit_index_mark()? else {
            return Ok(0);
        };
        let log = self.audit_log_path();
        let (mut named, mut from_log) = (0u64, 0u128);
        audit::scan_from(&log, 0, |line| {
            if line.offset < mark.offset {
                if let Some(child) = line
                    .child
                    .as_deref()
                    .and_then(|c| c.parse::<ChildId>().ok())
                {
                    named += 1;
                    from_log =
                        from_log.wrapping_add(row_digest(child.as_bytes(), line.seq, line.offset));
                }
            }
            Ok(())
        })?;
        let (mut held, mut from_index) = (0u64, 0u128);
        self.db.audit_index_each(|child, seq, offset| {
            held += 1;
            from_index = from_index.wrapping_add(row_digest(child, seq, offset));
        })?;
        if held == named && from_index == from_log {
            return Ok(held);
        }
        Err(VaultError::Audit(
            self.first_unindexed_line(&mark, held, named)?,
        ))
    }

    /// The first line of the log the index does not hold at its offset
    /// (one lookup per line: only run once the digests disagree).
    fn first_unindexed_line(
        &self,
        mark: &IndexMark,
        held: u64,
        named: u64,
    ) -> Result<AuditError, VaultError> {
        let bad = |seq: u64, why: String| AuditError::Broken {
            line: seq,
            reason: format!("the access-history index {why}"),
        };
        let mut failed: Option<VaultError> = None;
        let mut found: Option<AuditError> = None;
        let scanned = audit::scan_from(&self.audit_log_path(), 0, |line| {
            if line.offset >= mark.offset || found.is_some() {
                return Ok(());
            }
            let Some(child) = line
                .child
                .as_deref()
                .and_then(|c| c.parse::<ChildId>().ok())
            else {
                return Ok(());
            };
            match self.db.audit_index_offset(child, line.seq) {
                Ok(Some(o)) if o == line.offset => {}
                Ok(_) => {
                    found = Some(bad(
                        line.seq,
                        "misses this line or holds another offset".into(),
                    ))
                }
                Err(e) => failed = Some(e.into()),
            }
            Ok(())
        });
        if let Some(e) = failed {
            return Err(e);
        }
        scanned?;
        Ok(found.unwrap_or_else(|| {
            bad(
                mark.seq,
                format!("holds {held} lines where the log has {named}, or other lines"),
            )
        }))
    }
}

/// One index row's share of the order-free digest.
fn row_digest(child: &[u8], seq: u64, offset: u64) -> u128 {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(child);
    h.update(seq.to_be_bytes());
    h.update(offset.to_be_bytes());
    let d = h.finalize();
    u128::from_be_bytes(d[..16].try_into().expect("16 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CaseRecord, Principal, Purpose};

    fn record(name: &str) -> CaseRecord {
        CaseRecord {
            name: name.into(),
            ..CaseRecord::default()
        }
    }

    #[tokio::test]
    async fn pages_of_a_history_come_from_the_index_and_match_the_log() {
        let (_dir, vault) = crate::vault::testing::node().await;
        let op = Principal::LocalOperator;
        let a = vault.add_child(&op, record("Synthetic A")).unwrap();
        let b = vault.add_child(&op, record("Synthetic B")).unwrap();
        for _ in 0..3 {
            vault.show_child(&op, a, Purpose::Restoration).unwrap();
            vault.show_child(&op, b, Purpose::Restoration).unwrap();
        }
        // Oldest first, two at a time: create, three reads, and each
        // history read so far is itself a decision about the child.
        let first = vault.access_log_page(&op, a, None, 2, false).unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.items[0].1.action, "create_child");
        let after: u64 = first.next.clone().unwrap().parse().unwrap();
        let second = vault
            .access_log_page(&op, a, Some(after), 2, false)
            .unwrap();
        assert!(second.items.iter().all(|(l, _)| l.seq > after));
        let all = vault.access_log(&op, a).unwrap();
        assert!(all
            .iter()
            .all(|(_, e)| e.child.as_deref() == Some(a.to_string().as_str())));
        assert!(all.windows(2).all(|w| w[0].0.seq < w[1].0.seq));
        assert_eq!(
            all.len(),
            1 + 3 + 2 + 1,
            "create, 3 reads, 2 history pages, this read"
        );
        // Newest first.
        let newest = vault.access_log_page(&op, a, None, 1, true).unwrap();
        assert_eq!(newest.items[0].1.action, "read_access_log");
        assert_eq!(
            vault.verify_audit_index().unwrap(),
            vault.db.audit_index_len().unwrap()
        );
    }

    #[tokio::test]
    async fn a_lost_or_wrong_index_is_rebuilt_and_a_bad_row_is_caught() {
        let (_dir, vault) = crate::vault::testing::node().await;
        let op = Principal::LocalOperator;
        let a = vault.add_child(&op, record("Synthetic A")).unwrap();
        vault.show_child(&op, a, Purpose::Restoration).unwrap();
        let before = vault.access_log(&op, a).unwrap().len();

        // Lost: no mark, no rows. The next read rebuilds it from the log.
        vault.db.audit_index_load_start().unwrap();
        assert!(vault
            .db
            .audit_index_load_finish(0, &IndexMark::default())
            .unwrap());
        assert_eq!(vault.db.audit_index_len().unwrap(), 0);
        assert_eq!(vault.access_log(&op, a).unwrap().len(), before + 1);

        // Out of step: a mark the log does not go on from.
        let mut mark = vault.db.audit_index_mark().unwrap().unwrap();
        mark.hash = "0".repeat(64);
        mark.offset -= 1;
        vault.db.audit_index_add(&[], &mark).unwrap();
        assert_eq!(vault.access_log(&op, a).unwrap().len(), before + 2);

        // A row the log does not have is caught by the check.
        let mark = vault.db.audit_index_mark().unwrap().unwrap();
        vault.db.audit_index_add(&[(a, 2, 0)], &mark).unwrap();
        let err = vault.verify_audit_index().unwrap_err();
        assert!(err.to_string().contains("index"), "{err}");
        // And one that points at the wrong line, read through a page, is
        // noticed there: the index is rebuilt and the page is right.
        vault.index_audit_log(true).unwrap();
        assert!(vault.verify_audit_index().is_ok());
        let mark = vault.db.audit_index_mark().unwrap().unwrap();
        let rows = vault.db.audit_index_page(a, None, 1, false).unwrap();
        vault
            .db
            .audit_index_add(&[(a, rows[0].0, rows[0].1 + 1)], &mark)
            .unwrap();
        let page = vault.access_log_page(&op, a, None, 1, false).unwrap();
        assert_eq!(page.items[0].1.action, "create_child");
        assert!(vault.verify_audit_index().is_ok());
    }
}
