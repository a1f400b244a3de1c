//! Read models that pages and lists need beyond a single record: each
//! child with its checklist, the transfers and grants a caller may see,
//! the grants made to a support person, the people a grant can go to, and
//! a district's overview in numbers. Each is one audited node-level
//! decision, and every row is then filtered by the same policies as a
//! single read (like `list_children`); nothing here shows a document's
//! content.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::access::Note;
use super::{Checklist, Purpose, Vault, VaultError};
use crate::domain::{
    Child, ChildId, DocKind, Grant, Page, PageRequest, Principal, Role, Transfer, TransferState,
};
use crate::policy::Action;

/// One child of a list, with the checklist of a purpose.
#[derive(Debug, Clone)]
pub struct ChildSummary {
    pub child: Child,
    pub checklist: Checklist,
}

/// A transfer with its child's name, as a list shows it.
#[derive(Debug, Clone)]
pub struct TransferSummary {
    pub transfer: Transfer,
    pub child_name: String,
}

/// A grant with its child's name and the grantee's user name.
#[derive(Debug, Clone)]
pub struct GrantSummary {
    pub grant: Grant,
    pub child_name: String,
    pub grantee: String,
}

/// A district's numbers: no names, no contents.
#[derive(Debug, Clone, Default)]
pub struct DistrictOverview {
    /// Children per institution (`None`: not placed in one).
    pub by_institution: BTreeMap<Option<String>, u64>,
    /// For each kind the restoration checklist requires: how many
    /// children have it, and how many miss it.
    pub by_kind: Vec<(DocKind, u64, u64)>,
    /// Transfers by destination department and state.
    pub transfers: BTreeMap<String, BTreeMap<TransferState, u64>>,
    /// The transfers still waiting (submitted or approved, not sent),
    /// oldest first: id, state, since when.
    pub oldest_waiting: Vec<(crate::domain::TransferId, TransferState, DateTime<Utc>)>,
    pub children: u64,
}

/// What a caller may do with one child: which actions a page offers.
/// The policies decide each; the vault checks again when it is done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChildAbilities {
    pub edit: bool,
    pub move_child: bool,
    pub add_document: bool,
    pub create_transfer: bool,
    pub approve_transfer: bool,
    pub grant_access: bool,
    pub read_access_log: bool,
}

/// One line of a child's access history, as people read it.
#[derive(Debug, Clone)]
pub struct AccessRecord {
    pub at: DateTime<Utc>,
    /// The user's name (or `local-operator`; an id for a user since removed).
    pub who: String,
    pub role: String,
    /// The action (`read_document`, `read_record`…).
    pub action: String,
    pub allowed: bool,
    /// The kind of the paper read, when the entry names one.
    pub kind: Option<DocKind>,
    pub purpose: Option<Purpose>,
}

/// What an administrator watches of the node's health.
#[derive(Debug, Clone)]
pub struct NodeHealth {
    /// The audit log verified now from its start: or why it does not.
    pub audit: Result<super::AuditVerified, String>,
    pub verified_at: DateTime<Utc>,
    /// Bytes free and in all on the data directory's file system.
    pub disk_free: u64,
    pub disk_total: u64,
    /// Bundles in the inbox waiting for an officer.
    pub inbox_waiting: u64,
    /// Pushes not yet done (oldest first); those that failed carry the error.
    pub outbox: Vec<crate::domain::OutboxItem>,
    /// Transfers sent more than [`UNDELIVERED_DAYS`] ago without an answer.
    pub undelivered: Vec<Transfer>,
}

/// A sent transfer without an answer after this many days is listed.
pub const UNDELIVERED_DAYS: i64 = 7;

/// How many of the oldest waiting transfers the overview lists.
const OLDEST: usize = 10;

impl Vault {
    /// What `actor` may do with `child` (not audited: the page that shows
    /// the child was). A child the actor may not see is unknown.
    pub fn child_abilities(
        &self,
        actor: &Principal,
        id: ChildId,
    ) -> Result<ChildAbilities, VaultError> {
        let child = self.child(id)?;
        if !self.may(actor, Action::ReadRecord, &child)? {
            return Err(VaultError::UnknownChild(id.to_string()));
        }
        Ok(ChildAbilities {
            edit: self.may(actor, Action::EditChild, &child)?,
            move_child: self.may(actor, Action::MoveChild, &child)?,
            add_document: self.may(actor, Action::AddDocument, &child)?,
            create_transfer: self.may(actor, Action::CreateTransfer, &child)?,
            approve_transfer: self.may(actor, Action::ApproveTransfer, &child)?,
            grant_access: self.may(actor, Action::GrantAccess, &child)?,
            read_access_log: self.may(actor, Action::ReadAccessLog, &child)?,
        })
    }

    /// The children `actor` may see, each with the checklist of `purpose`,
    /// in name order.
    pub fn children_overview(
        &self,
        actor: &Principal,
        purpose: Purpose,
    ) -> Result<Vec<ChildSummary>, VaultError> {
        self.list_children(actor)?
            .into_iter()
            .map(|child| self.summary_of(actor, child, purpose))
            .collect()
    }

    /// One page of [`Vault::children_overview`] (name order; `q` searches
    /// names).
    pub fn children_overview_page(
        &self,
        actor: &Principal,
        purpose: Purpose,
        page: &PageRequest,
    ) -> Result<Page<ChildSummary>, VaultError> {
        let found = self.list_children_page(actor, page)?;
        Ok(Page {
            items: found
                .items
                .into_iter()
                .map(|child| self.summary_of(actor, child, purpose))
                .collect::<Result<_, _>>()?,
            next: found.next,
        })
    }

    /// A child with the checklist of `purpose`, as `actor` may see them.
    fn summary_of(
        &self,
        actor: &Principal,
        child: Child,
        purpose: Purpose,
    ) -> Result<ChildSummary, VaultError> {
        let documents = self.db.documents_of(child.id)?;
        let (child, documents) = self.need_to_know(actor, child, documents)?;
        let checklist = self.checklists.evaluate(purpose, &documents);
        Ok(ChildSummary { child, checklist })
    }

    /// The grants made to `actor` (a support person), live ones first,
    /// each with the child's name as the grant lets them see it.
    pub fn grants_to_me(&self, actor: &Principal) -> Result<Vec<GrantSummary>, VaultError> {
        self.authorize_node(actor, Action::ListChildren, Note::default())?;
        let Principal::User(me) = actor else {
            return Ok(Vec::new());
        };
        let now = self.now();
        let mut out = Vec::new();
        for grant in self.db.grants(Some(me.id), None)? {
            let Some(child) = self.db.child(grant.child)? else {
                continue;
            };
            out.push(GrantSummary {
                grantee: me.name.clone(),
                child_name: child.record.name,
                grant,
            });
        }
        out.sort_by_key(|g| (!g.grant.is_active(now), std::cmp::Reverse(g.grant.until)));
        Ok(out)
    }

    /// The enabled support persons a grant on `child` can go to (names
    /// only), for whoever may grant access to that child.
    pub fn support_persons(
        &self,
        actor: &Principal,
        child: ChildId,
    ) -> Result<Vec<String>, VaultError> {
        self.authorize_child(actor, Action::GrantAccess, child, Note::default())?;
        Ok(self
            .db
            .users()?
            .into_iter()
            .filter(|u| u.role == Role::SupportPerson && !u.disabled)
            .map(|u| u.name)
            .collect())
    }

    /// The node's health, for administrators: reads the whole audit log.
    pub fn node_health(&self, actor: &Principal) -> Result<NodeHealth, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::default())?;
        let audit = super::verify_audit_log(self.data_dir(), None, None).map_err(|e| e.to_string());
        let (disk_free, disk_total) = disk_space(self.data_dir());
        let now = self.now();
        let inbox_waiting = self
            .db
            .inbox()?
            .iter()
            .filter(|i| i.state == crate::domain::InboxState::Waiting)
            .count() as u64;
        let undelivered = self
            .db
            .transfers(None)?
            .into_iter()
            .filter(|t| t.state == TransferState::Sent)
            .filter(|t| {
                let sent = t.history.last().map_or(t.created_at, |e| e.at);
                now - sent > chrono::Duration::days(UNDELIVERED_DAYS)
            })
            .collect();
        Ok(NodeHealth {
            audit,
            verified_at: now,
            disk_free,
            disk_total,
            inbox_waiting,
            outbox: self.db.pending_pushes()?,
            undelivered,
        })
    }

    /// Who asked for what about `child`, when and why, newest first, with
    /// user names and the kinds of the papers: up to `limit` decisions
    /// before line `before` (see [`Vault::access_log_page`]), and the line
    /// to read older ones before, if any.
    pub fn access_history(
        &self,
        actor: &Principal,
        child: ChildId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<AccessRecord>, Option<String>), VaultError> {
        let page = self.access_log_page(actor, child, before, limit, true)?;
        let users: BTreeMap<String, String> = self
            .db
            .users()?
            .into_iter()
            .map(|u| (format!("user:{}", u.id), u.name))
            .collect();
        let kinds: BTreeMap<String, DocKind> = self
            .db
            .documents_of(child)?
            .into_iter()
            .map(|d| (d.id.to_string(), d.kind))
            .collect();
        let out = page
            .items
            .into_iter()
            .map(|(line, e)| AccessRecord {
                at: line.time,
                who: users.get(&e.who).cloned().unwrap_or(e.who),
                role: e.role,
                action: e.action,
                allowed: e.decision == super::Outcome::Allow,
                kind: e.document.as_ref().and_then(|d| kinds.get(d).copied()),
                purpose: e.purpose.as_deref().and_then(|p| p.parse().ok()),
            })
            .collect();
        Ok((out, page.next))
    }

    /// The numbers of the children `actor` may see (a DCPU officer: the
    /// district's homes), without names or contents.
    pub fn district_overview(&self, actor: &Principal) -> Result<DistrictOverview, VaultError> {
        let children = self.children_overview(actor, Purpose::Restoration)?;
        let mut o = DistrictOverview {
            children: children.len() as u64,
            ..DistrictOverview::default()
        };
        let required = self.checklists.required(Purpose::Restoration).to_vec();
        let mut kinds: BTreeMap<DocKind, (u64, u64)> =
            required.iter().map(|k| (*k, (0, 0))).collect();
        let ids: std::collections::BTreeSet<ChildId> =
            children.iter().map(|c| c.child.id).collect();
        for c in &children {
            *o.by_institution
                .entry(c.child.record.institution.clone())
                .or_insert(0) += 1;
            for k in &c.checklist.present {
                if let Some(e) = kinds.get_mut(k) {
                    e.0 += 1;
                }
            }
            for k in &c.checklist.missing {
                if let Some(e) = kinds.get_mut(k) {
                    e.1 += 1;
                }
            }
        }
        o.by_kind = required
            .iter()
            .map(|k| {
                let (have, miss) = kinds[k];
                (*k, have, miss)
            })
            .collect();
        let mut waiting = Vec::new();
        let filter = self.child_filter(actor)?;
        for t in self.transfers_in_scope(&filter)? {
            if !ids.contains(&t.child) {
                continue;
            }
            *o.transfers
                .entry(t.to.clone())
                .or_default()
                .entry(t.state)
                .or_insert(0) += 1;
            if matches!(t.state, TransferState::Submitted | TransferState::Approved) {
                let since = t.history.last().map_or(t.created_at, |e| e.at);
                waiting.push((t.id, t.state, since));
            }
        }
        waiting.sort_by_key(|w| w.2);
        waiting.truncate(OLDEST);
        o.oldest_waiting = waiting;
        Ok(o)
    }
}

/// Free and total bytes of the file system holding `dir` (0, 0 if unknown).
fn disk_space(dir: &std::path::Path) -> (u64, u64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return (0, 0);
    };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `st` a writable statvfs.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return (0, 0);
    }
    let block = st.f_frsize as u64;
    (st.f_bavail as u64 * block, st.f_blocks as u64 * block)
}
