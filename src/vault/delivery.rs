//! Node-to-node delivery, without HTTP: the inbox (bundles pushed by other
//! nodes, authenticated by their signature, waiting for an SWD officer to
//! accept or refuse them) and the outbox (bundles and answers, receipts or
//! refusals, this node still has to push, retried with backoff until taken
//! or given up).
//!
//! Files: `inbox/BUNDLE_ID.bundle` while waiting, `outbox/TRANSFER_ID.bundle`
//! for a sent transfer (also the offline download). A push in progress is
//! written to `inbox/.partial-*` first and only renamed in once it verifies.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::access::Note;
use super::staging::{Reservation, StagingLimit};
use super::{Vault, VaultError};
use crate::bundle::{BundleError, Prefix};
use crate::domain::{
    InboxItem, InboxState, OutboxItem, OutboxKind, Principal, TransferId, TransferState,
    TransferStep,
};
use crate::policy::Action;

const INBOX: &str = "inbox";
const OUTBOX: &str = "outbox";
const PARTIAL_PREFIX: &str = ".partial-";

/// Something the outbox worker has to push now.
#[derive(Debug, Clone)]
pub struct Push {
    pub item: OutboxItem,
    /// The destination's URL (its inbox, or its receipts route).
    pub url: String,
    pub body: PushBody,
}

/// What a push sends.
#[derive(Debug, Clone)]
pub enum PushBody {
    /// A bundle file, streamed.
    File(PathBuf),
    /// A receipt.
    Bytes(Vec<u8>),
}

/// When pushes are retried.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub give_up_after: Duration,
}

impl Backoff {
    /// The wait after `attempts` failed attempts: doubling from `first`, at
    /// most `max` (the ceiling, before jitter).
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 1i64 << attempts.saturating_sub(1).min(20);
        (self.first * factor as i32).min(self.max)
    }

    /// [`delay`](Self::delay) with jitter: a random wait between half of it
    /// and all of it, so that many nodes whose pushes failed together (a
    /// destination that was down) do not all retry at the same moment.
    pub fn jittered(&self, attempts: u32) -> Duration {
        use rand::Rng;
        let ceiling = self.delay(attempts);
        let ms = ceiling.num_milliseconds().max(0);
        Duration::milliseconds(rand::thread_rng().gen_range(ms / 2..=ms))
    }
}

impl Vault {
    /// Receives a bundle pushed by another node. Checked while it streams:
    /// the version marker, then the envelope's signature against the
    /// directory and this node as destination, all from the first entries
    /// and in memory, before a byte reaches the disk; then the staging
    /// limits for the exact size the signed envelope implies. Only then is
    /// the rest written aside (an owner-only partial file, removed if
    /// anything fails or the client goes away), stopping as soon as the
    /// body outgrows that size. Then the full check, and into the inbox. A
    /// bundle already here (checked in full again) is not stored twice:
    /// `false` says so. Every refusal is audited.
    pub async fn receive_bundle(
        &self,
        mut body: impl AsyncRead + Unpin + Send,
    ) -> Result<(InboxItem, bool), VaultError> {
        let prefix = match Prefix::read(&mut body).await {
            Ok(p) => p,
            // The client's connection failed (it stalled, or went away).
            Err(BundleError::Io(e)) => {
                self.record_inbox_refusal(None, "incomplete")?;
                return Err(VaultError::Source(e));
            }
            Err(e) => {
                self.record_inbox_refusal(None, "not-a-bundle")?;
                return Err(e.into());
            }
        };
        let directory = self.directory()?;
        let (envelope, size) = match prefix.check(|id| directory.card(id)) {
            Ok(checked) => checked,
            Err(e) => {
                self.record_inbox_refusal(None, "unverified")?;
                return Err(e.into());
            }
        };
        let source = envelope.source.id.clone();
        if let Err(e) = self.addressed_here(&envelope) {
            self.record_inbox_refusal(Some(&source), "wrong-destination")?;
            return Err(e);
        }
        if !safe_id(&envelope.bundle_id) {
            self.record_inbox_refusal(Some(&source), "malformed-id")?;
            return Err(VaultError::MalformedBundleId);
        }
        let _reserved = self.reserve_inbox(&source, size)?;
        let dir = self.inbox_dir()?;
        let partial = self.staging.partial(&dir, PARTIAL_PREFIX);
        let written = async {
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(partial.path())
                .await?;
            file.write_all(&prefix.bytes).await?;
            let rest = size - prefix.bytes.len() as u64;
            let copied = tokio::io::copy(&mut (&mut body).take(rest + 1), &mut file)
                .await
                .map_err(VaultError::Source)?;
            if copied > rest {
                return Err(VaultError::Bundle(BundleError::TooLarge(format!(
                    "the body is longer than the {size} bytes its signed envelope implies"
                ))));
            }
            if copied < rest {
                return Err(VaultError::Bundle(BundleError::Truncated));
            }
            file.flush().await?;
            file.sync_all().await?;
            Ok::<_, VaultError>(())
        }
        .await;
        if let Err(e) = written {
            self.record_inbox_refusal(Some(&source), "incomplete")?;
            return Err(e);
        }
        match self.file_received(partial.path()).await {
            Ok((item, new)) => {
                if new {
                    partial.keep();
                }
                Ok((item, new))
            }
            Err(e) => {
                self.record_inbox_refusal(Some(&source), "unverified")?;
                Err(e)
            }
        }
    }

    /// Reserves `size` bytes of inbox staging for a bundle of `source`.
    fn reserve_inbox(&self, source: &str, size: u64) -> Result<Reservation<'_>, VaultError> {
        let waiting: Vec<InboxItem> = self
            .db
            .inbox()?
            .into_iter()
            .filter(|i| i.state == InboxState::Waiting)
            .collect();
        let total: u64 = waiting.iter().map(|i| i.size).sum();
        let mine: u64 = waiting
            .iter()
            .filter(|i| i.source == source)
            .map(|i| i.size)
            .sum();
        let limits = (
            self.settings.inbox_max_staged_bytes,
            self.settings.inbox_max_staged_bytes_per_source,
        );
        match self
            .staging
            .reserve(source, size, total, mine, limits.0, limits.1)
        {
            Ok(r) => Ok(r),
            Err(limit) => {
                self.record_inbox_refusal(Some(source), "inbox-full")?;
                Err(VaultError::InboxFull(match limit {
                    StagingLimit::Total => "the inbox holds as many bytes as it may",
                    StagingLimit::PerSource => {
                        "the inbox holds as many bytes from this department as it may"
                    }
                }))
            }
        }
    }

    async fn file_received(&self, partial: &Path) -> Result<(InboxItem, bool), VaultError> {
        let verified = self.verify_bundle(partial).await?;
        let envelope = &verified.envelope;
        self.addressed_here(envelope)?;
        let id = envelope.bundle_id.clone();
        self.record_peer(&envelope.source.id, Action::ReceiveTransfer, &id, true)?;
        if let Some(known) = self.db.inbox_item(&id)? {
            return Ok((known, false));
        }
        let item = InboxItem {
            bundle_id: id.clone(),
            source: envelope.source.id.clone(),
            size: verified.size,
            documents: verified.document_count() as u64,
            created_at: envelope.created_at,
            received_at: Utc::now(),
            state: InboxState::Waiting,
            decided_by: None,
            decided_at: None,
            reason: None,
            child_id: None,
        };
        let path = self.inbox_dir()?.join(format!("{id}.bundle"));
        // Synced when it was received: renamed in, and the rename synced.
        crate::durable::commit_synced(partial, &path)?;
        if !self.db.insert_inbox(&item)? {
            // Another push of the same bundle won the race.
            let known = self.db.inbox_item(&id)?.ok_or_else(|| {
                VaultError::Integrity("an inbox row vanished while it was written".into())
            })?;
            return Ok((known, false));
        }
        tracing::info!(bundle = %id, source = %item.source, size = item.size, "bundle received");
        Ok((item, true))
    }

    /// Accepts a waiting bundle: imports it (all or nothing, once), then
    /// queues its receipt back to the source. Returns the item and the
    /// receipt bytes.
    pub async fn accept_inbox(
        &self,
        actor: &Principal,
        bundle_id: &str,
    ) -> Result<(InboxItem, Vec<u8>), VaultError> {
        let mut item = self.waiting(actor, bundle_id)?;
        let path = self.inbox_dir()?.join(format!("{}.bundle", item.bundle_id));
        let imported = self.import_bundle(actor, &path).await?;
        item.state = InboxState::Accepted;
        item.decided_by = Some(actor.label());
        item.decided_at = Some(Utc::now());
        item.child_id = Some(imported.child_id);
        self.db.decide_inbox(&item)?;
        self.queue_push(OutboxKind::Receipt, &item.bundle_id, &item.source)?;
        let _ = fs::remove_file(&path);
        tracing::info!(bundle = %item.bundle_id, "inbox bundle accepted");
        Ok((item, imported.receipt))
    }

    /// Refuses a waiting bundle with a reason: signs the refusal, queues
    /// it back to the source (as the bundle's answer) and removes the
    /// bundle's file. Returns the item and the refusal file's bytes.
    pub async fn refuse_inbox(
        &self,
        actor: &Principal,
        bundle_id: &str,
        reason: &str,
    ) -> Result<(InboxItem, Vec<u8>), VaultError> {
        let reason = reason.trim();
        if !crate::bundle::valid_reason(reason) {
            return Err(VaultError::ReasonRequired("a refusal"));
        }
        let mut item = self.waiting(actor, bundle_id)?;
        let path = self.inbox_dir()?.join(format!("{}.bundle", item.bundle_id));
        let verified = self.verify_bundle(&path).await?;
        let refused = self.refuse_verified(&verified, reason)?;
        item.state = InboxState::Refused;
        item.decided_by = Some(actor.label());
        item.decided_at = Some(Utc::now());
        item.reason = Some(reason.to_string());
        if !self.db.decide_inbox(&item)? {
            return Err(VaultError::Conflict(format!(
                "inbox bundle {bundle_id} is no longer waiting"
            )));
        }
        self.queue_push(OutboxKind::Receipt, &item.bundle_id, &item.source)?;
        let _ = fs::remove_file(&path);
        tracing::info!(bundle = %item.bundle_id, "inbox bundle refused");
        Ok((item, refused.refusal))
    }

    /// A waiting inbox item, after the officer's right to decide is checked.
    fn waiting(&self, actor: &Principal, bundle_id: &str) -> Result<InboxItem, VaultError> {
        self.authorize_node(actor, Action::ReceiveTransfer, Note::target(bundle_id))?;
        let unknown = || VaultError::UnknownInboxItem(crate::domain::text::outside_id(bundle_id));
        let item = if safe_id(bundle_id) {
            self.db.inbox_item(bundle_id)?.ok_or_else(unknown)?
        } else {
            return Err(unknown());
        };
        if item.state != InboxState::Waiting {
            return Err(VaultError::Conflict(format!(
                "inbox bundle {bundle_id} was already {}",
                item.state.as_str()
            )));
        }
        Ok(item)
    }

    /// An answer (receipt or refusal) pushed by the destination's node:
    /// its signature, checked against the directory, authenticates it.
    pub fn receive_receipt(&self, bytes: &[u8]) -> Result<super::Delivered, VaultError> {
        let delivered = self.check_receipt(bytes)?;
        self.record_peer(
            delivered.destination(),
            Action::ReceiveTransfer,
            delivered.bundle_id(),
            true,
        )?;
        self.record_delivery(&delivered)
    }

    /// The file of a sent transfer, for offline hand-over.
    pub async fn transfer_bundle(
        &self,
        actor: &Principal,
        id: TransferId,
    ) -> Result<PathBuf, VaultError> {
        let t = self.transfer(actor, id)?;
        let path = self.outbox_file(id)?;
        if t.bundle_id.is_none() || !path.is_file() {
            return Err(VaultError::NoBundleFile {
                id: id.to_string(),
                state: t.state.as_str(),
            });
        }
        Ok(path)
    }

    /// Where a transfer's bundle is written when it is sent.
    pub fn outbox_file(&self, id: TransferId) -> Result<PathBuf, VaultError> {
        let dir = self.data_dir().join(OUTBOX);
        fs::create_dir_all(&dir)?;
        Ok(dir.join(format!("{id}.bundle")))
    }

    /// Queues a push to department `to`, if its card names an inbox URL.
    /// Without one, the hand-over is offline: nothing is queued.
    pub(super) fn queue_push(
        &self,
        kind: OutboxKind,
        bundle_id: &str,
        to: &str,
    ) -> Result<bool, VaultError> {
        let has_url = self
            .directory()?
            .card(to)
            .is_some_and(|c| c.inbox_url.is_some());
        if has_url {
            self.db.queue_push(&OutboxItem {
                kind,
                bundle_id: bundle_id.to_string(),
                destination: to.to_string(),
                queued_at: Utc::now(),
                attempts: 0,
                next_attempt_at: Utc::now(),
                last_error: None,
                done_at: None,
                gave_up_at: None,
            })?;
            self.outbox.notify_one();
        }
        Ok(has_url)
    }

    /// Resolves when something was queued to push since the last call
    /// (for the worker that pushes the outbox).
    pub async fn outbox_queued(&self) {
        self.outbox.notified().await
    }

    /// Pushes due at `now`, with their URL and body. A push whose
    /// destination lost its URL, or whose file is gone, is given up. A push
    /// to a department whose key this node revoked waits until its new
    /// card is added.
    pub fn due_pushes(&self, now: DateTime<Utc>) -> Result<Vec<Push>, VaultError> {
        let directory = self.directory()?;
        let mut due = Vec::new();
        for item in self.db.pending_pushes()? {
            if item.next_attempt_at > now {
                continue;
            }
            let card = directory.card(&item.destination);
            if card
                .as_ref()
                .is_some_and(|c| super::departments::current_revocation(c).is_some())
            {
                continue;
            }
            let url = card.and_then(|c| c.inbox_url).map(|u| match item.kind {
                OutboxKind::Bundle => u,
                OutboxKind::Receipt => receipts_url(&u),
            });
            let body = match item.kind {
                OutboxKind::Bundle => self
                    .db
                    .transfer_by_bundle(&item.bundle_id)?
                    .map(|t| self.outbox_file(t.id))
                    .transpose()?
                    .filter(|p| p.is_file())
                    .map(PushBody::File),
                OutboxKind::Receipt => match self.db.imported_bundle(&item.bundle_id)? {
                    Some(b) => Some(PushBody::Bytes(b.receipt.into_bytes())),
                    None => self
                        .db
                        .refused_bundle(&item.bundle_id)?
                        .map(|b| PushBody::Bytes(b.refusal.into_bytes())),
                },
            };
            match (url, body) {
                (Some(url), Some(body)) => due.push(Push { item, url, body }),
                _ => self.push_failed(item, "nothing to push or nowhere to push it", None)?,
            }
        }
        Ok(due)
    }

    /// When the soonest pending push is due.
    pub fn next_push_at(&self) -> Result<Option<DateTime<Utc>>, VaultError> {
        Ok(self
            .db
            .pending_pushes()?
            .into_iter()
            .map(|i| i.next_attempt_at)
            .min())
    }

    /// Records a push the destination took.
    pub fn push_done(&self, mut item: OutboxItem) -> Result<(), VaultError> {
        item.attempts += 1;
        item.done_at = Some(Utc::now());
        item.last_error = None;
        self.db.update_push(&item)?;
        tracing::info!(bundle = %item.bundle_id, kind = item.kind.as_str(), "push delivered");
        Ok(())
    }

    /// Records a failed attempt: retried after the backoff, or given up
    /// (`backoff` None, or past its limit). A bundle push given up marks
    /// its transfer failed.
    pub fn push_failed(
        &self,
        mut item: OutboxItem,
        error: &str,
        backoff: Option<&Backoff>,
    ) -> Result<(), VaultError> {
        let now = Utc::now();
        item.attempts += 1;
        item.last_error = Some(error.chars().take(300).collect());
        match backoff {
            Some(b) if now - item.queued_at < b.give_up_after => {
                item.next_attempt_at = now + b.jittered(item.attempts);
            }
            _ => {
                item.gave_up_at = Some(now);
                if item.kind == OutboxKind::Bundle {
                    self.transfer_failed(&item.bundle_id)?;
                }
                tracing::warn!(bundle = %item.bundle_id, attempts = item.attempts, "push given up");
            }
        }
        self.db.update_push(&item)?;
        Ok(())
    }

    fn transfer_failed(&self, bundle_id: &str) -> Result<(), VaultError> {
        if let Some(mut t) = self.db.transfer_by_bundle(bundle_id)? {
            if t.state == TransferState::Sent {
                t.take(TransferStep::Fail, "delivery".into(), Utc::now())
                    .map_err(|e| VaultError::Conflict(e.to_string()))?;
                self.db.put_transfer(&t)?;
            }
        }
        Ok(())
    }

    fn inbox_dir(&self) -> Result<PathBuf, VaultError> {
        let dir = self.data_dir().join(INBOX);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Removes the partial files of bundles whose receiving was
    /// interrupted (a crash, a kill) and that no receive in progress owns.
    /// `serve` runs it at start and then every minute.
    pub fn clear_partial_receipts(&self) -> Result<usize, VaultError> {
        Ok(self.staging.sweep(&self.inbox_dir()?, PARTIAL_PREFIX)?)
    }
}

/// The receipts route next to an inbox URL (`…/inbox` → `…/receipts`).
pub fn receipts_url(inbox_url: &str) -> String {
    let base = inbox_url.trim_end_matches('/');
    match base.strip_suffix("/inbox") {
        Some(stem) => format!("{stem}/receipts"),
        None => format!("{base}/receipts"),
    }
}

/// Bundle ids are UUIDs; anything else never reaches a file name.
fn safe_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn retries_are_spread_between_half_the_delay_and_all_of_it() {
        let b = Backoff {
            first: Duration::seconds(30),
            max: Duration::hours(1),
            give_up_after: Duration::days(7),
        };
        let waits: Vec<_> = (0..200).map(|_| b.jittered(3)).collect();
        assert!(waits
            .iter()
            .all(|w| *w >= Duration::seconds(60) && *w <= Duration::seconds(120)));
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() > 50, "spread, not one moment");
        assert!(b.jittered(30) <= Duration::hours(1));
    }
}
