//! Lists that scale, a page at a time with a cursor (`domain::PageRequest`):
//! children, with the caller's scope and the name search in the SQL query
//! (`store::ChildFilter`) and each row still checked by the policies
//! before it is shown; transfers, the inbox, grants and users, each
//! authorized once as a whole. The filter only narrows:
//! the policy stays the authority, so a row the query lets through wrongly
//! is dropped here, never shown (tested below).

use std::collections::BTreeMap;

use super::access::Note;
use super::{GrantSummary, TransferSummary};
use super::{Vault, VaultError};
use crate::domain::{
    Child, ChildId, Grant, GrantId, InboxItem, Page, PageRequest, Principal, Role, Scope, Transfer,
    TransferId, TransferState, User, UserId,
};
use crate::policy::Action;
use crate::store::ChildFilter;

/// Rows fetched per query while filling a page (more than a page, so a
/// page whose rows the policy drops rarely needs a second query).
const BATCH_EXTRA: usize = 16;

/// Rows read per query when a whole scope is read.
const MAX_BATCH: usize = 500;

impl Vault {
    /// One page of the children `actor` may see, in name order (folded
    /// names, then ids).
    pub fn list_children_page(
        &self,
        actor: &Principal,
        page: &PageRequest,
    ) -> Result<Page<Child>, VaultError> {
        self.authorize_node(actor, Action::ListChildren, Note::default())?;
        let filter = self.child_filter(actor)?;
        self.children_page_with(actor, &filter, page)
    }

    /// [`Vault::list_children_page`] with the query narrowed by `filter`.
    fn children_page_with(
        &self,
        actor: &Principal,
        filter: &ChildFilter,
        page: &PageRequest,
    ) -> Result<Page<Child>, VaultError> {
        fill_page(
            page.limit,
            cursor::<ChildId>(page, "not a child id")?,
            |after, batch| {
                Ok(self
                    .db
                    .children_page(filter, page.q.as_deref(), after, batch)?)
            },
            |child| child.id,
            |child| {
                if !self.may(actor, Action::ReadRecord, &child)? {
                    return Ok(None);
                }
                Ok(Some(self.need_to_know(actor, child, Vec::new())?.0))
            },
        )
    }

    /// The caller's scope as a query filter: a superset of what the
    /// policies let them read, never more than their scope.
    pub(super) fn child_filter(&self, actor: &Principal) -> Result<ChildFilter, VaultError> {
        let Principal::User(user) = actor else {
            return Ok(ChildFilter::All);
        };
        Ok(match (user.role, &user.scope) {
            (Role::ShelterStaff, Scope::Institution(i)) => ChildFilter::Institution(i.clone()),
            (Role::CwcMember | Role::DcpuOfficer, Scope::District(d)) => {
                ChildFilter::District(d.clone())
            }
            (Role::SwdOfficer, Scope::Department(_)) => ChildFilter::TransferredIn,
            (Role::SupportPerson, _) => {
                let now = self.now();
                let mut ids: Vec<ChildId> = self
                    .db
                    .grants(Some(user.id), None)?
                    .into_iter()
                    .filter(|g| g.revoked_at.is_none() && g.until > now)
                    .map(|g| g.child)
                    .collect();
                ids.sort();
                ids.dedup();
                ChildFilter::Ids(ids)
            }
            _ => ChildFilter::Nothing,
        })
    }

    /// A page of the transfers whose child `actor` may read, newest first,
    /// each with the child's name: only those in `state`, or only those
    /// not in `except`, if given. The caller's scope narrows the query;
    /// the policies decide each child.
    pub fn transfers_visible_page(
        &self,
        actor: &Principal,
        state: Option<TransferState>,
        except: Option<TransferState>,
        page: &PageRequest,
    ) -> Result<Page<TransferSummary>, VaultError> {
        self.authorize_node(actor, Action::ListChildren, Note::default())?;
        let filter = self.child_filter(actor)?;
        let mut names: BTreeMap<ChildId, Option<String>> = BTreeMap::new();
        fill_page(
            page.limit,
            cursor::<TransferId>(page, "not a transfer id")?,
            |after, batch| {
                Ok(self
                    .db
                    .transfers_of_children_page(&filter, state, except, after, batch)?)
            },
            |t| t.id,
            |transfer| {
                let name = match names.get(&transfer.child) {
                    Some(n) => n.clone(),
                    None => {
                        let n = match self.db.child(transfer.child)? {
                            Some(c) if self.may(actor, Action::ReadRecord, &c)? => {
                                Some(c.record.name)
                            }
                            _ => None,
                        };
                        names.insert(transfer.child, n.clone());
                        n
                    }
                };
                Ok(name.map(|child_name| TransferSummary {
                    transfer,
                    child_name,
                }))
            },
        )
    }

    /// Every transfer of the children `filter` lets through, newest
    /// first, read a page at a time (for counts over a scope).
    pub(super) fn transfers_in_scope(
        &self,
        filter: &ChildFilter,
    ) -> Result<Vec<Transfer>, VaultError> {
        let mut all: Vec<Transfer> = Vec::new();
        loop {
            let after = all.last().map(|t| t.id);
            let rows = self
                .db
                .transfers_of_children_page(filter, None, None, after, MAX_BATCH)?;
            let done = rows.len() < MAX_BATCH;
            all.extend(rows);
            if done {
                return Ok(all);
            }
        }
    }

    /// A page of the transfers of one child (for whoever may read its
    /// record), or of all (administration), newest first.
    pub fn list_transfers_page(
        &self,
        actor: &Principal,
        child: Option<ChildId>,
        page: &PageRequest,
    ) -> Result<Page<Transfer>, VaultError> {
        match child {
            Some(c) => {
                self.authorize_child(actor, Action::ReadRecord, c, Note::default())?;
            }
            None => self.authorize_node(actor, Action::Administer, Note::default())?,
        }
        let after: Option<TransferId> = cursor(page, "not a transfer id")?;
        let rows = self.db.transfers_page(child, after, page.limit + 1)?;
        Ok(paged(rows, page.limit, |t| t.id.to_string()))
    }

    /// A page of the inbox, newest first.
    pub fn list_inbox_page(
        &self,
        actor: &Principal,
        page: &PageRequest,
    ) -> Result<Page<InboxItem>, VaultError> {
        self.authorize_node(actor, Action::ReceiveTransfer, Note::default())?;
        let rows = self
            .db
            .inbox_page(None, page.after.as_deref(), page.limit + 1)?;
        Ok(paged(rows, page.limit, |i| i.bundle_id.clone()))
    }

    /// The inbox as a page shows it: every bundle waiting for a decision
    /// (their number is bounded by the inbox's staging limits), and a page
    /// of those decided, newest first.
    pub fn inbox_overview(
        &self,
        actor: &Principal,
        decided: &PageRequest,
    ) -> Result<(Vec<InboxItem>, Page<InboxItem>), VaultError> {
        self.authorize_node(actor, Action::ReceiveTransfer, Note::default())?;
        let mut waiting: Vec<InboxItem> = Vec::new();
        loop {
            let after = waiting.last().map(|i| i.bundle_id.clone());
            let rows = self
                .db
                .inbox_page(Some(true), after.as_deref(), MAX_BATCH)?;
            let done = rows.len() < MAX_BATCH;
            waiting.extend(rows);
            if done {
                break;
            }
        }
        let rows = self
            .db
            .inbox_page(Some(false), decided.after.as_deref(), decided.limit + 1)?;
        Ok((waiting, paged(rows, decided.limit, |i| i.bundle_id.clone())))
    }

    /// A page of the grants on children `actor` may grant access to,
    /// newest first, with the grantee's and the child's names. The scope
    /// narrows the query; the policies decide each child.
    pub fn grants_given_page(
        &self,
        actor: &Principal,
        page: &PageRequest,
    ) -> Result<Page<GrantSummary>, VaultError> {
        self.authorize_node(actor, Action::ListChildren, Note::default())?;
        let filter = self.child_filter(actor)?;
        let mut names: BTreeMap<UserId, String> = BTreeMap::new();
        fill_page(
            page.limit,
            cursor::<GrantId>(page, "not a grant id")?,
            |after, batch| Ok(self.db.grants_of_children_page(&filter, after, batch)?),
            |g| g.id,
            |grant| {
                let Some(child) = self.db.child(grant.child)? else {
                    return Ok(None);
                };
                if !self.may(actor, Action::GrantAccess, &child)? {
                    return Ok(None);
                }
                let grantee = match names.get(&grant.user) {
                    Some(n) => n.clone(),
                    None => {
                        let n = self
                            .db
                            .user(grant.user)?
                            .map(|u| u.name)
                            .unwrap_or_default();
                        names.insert(grant.user, n.clone());
                        n
                    }
                };
                Ok(Some(GrantSummary {
                    grantee,
                    child_name: child.record.name,
                    grant,
                }))
            },
        )
    }

    /// A page of the grants on one child (needs the right to grant for
    /// it), or of all (administration), newest first.
    pub fn list_grants_page(
        &self,
        actor: &Principal,
        child: Option<ChildId>,
        page: &PageRequest,
    ) -> Result<Page<Grant>, VaultError> {
        match child {
            Some(c) => {
                self.authorize_child(actor, Action::GrantAccess, c, Note::default())?;
            }
            None => self.authorize_node(actor, Action::Administer, Note::default())?,
        }
        let after: Option<GrantId> = cursor(page, "not a grant id")?;
        let rows = self.db.grants_page(None, child, after, page.limit + 1)?;
        Ok(paged(rows, page.limit, |g| g.id.to_string()))
    }

    /// A page of the users in name order; `q` searches their names.
    pub fn list_users_page(
        &self,
        actor: &Principal,
        page: &PageRequest,
    ) -> Result<Page<User>, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::default())?;
        let after: Option<UserId> = cursor(page, "not a user id")?;
        let rows = self
            .db
            .users_page(page.q.as_deref(), after, page.limit + 1)?;
        Ok(paged(rows, page.limit, |u| u.id.to_string()))
    }
}

/// The page's `after` as an id of the list's kind.
fn cursor<T: std::str::FromStr>(
    page: &PageRequest,
    rule: &'static str,
) -> Result<Option<T>, VaultError> {
    page.after
        .as_deref()
        .map(|a| {
            a.parse::<T>().map_err(|_| VaultError::InvalidField {
                field: "after",
                rule: rule.into(),
            })
        })
        .transpose()
}

/// A page of at most `limit` items from rows read in batches after the
/// cursor (`fetch(after, batch)`), each turned into an item or dropped by
/// `keep` (the policy's check, row by row). The next page starts after
/// the last row shown; there is none when no row is left to look at.
fn fill_page<R, T, K: Copy + ToString>(
    limit: usize,
    mut after: Option<K>,
    mut fetch: impl FnMut(Option<K>, usize) -> Result<Vec<R>, VaultError>,
    key: impl Fn(&R) -> K,
    mut keep: impl FnMut(R) -> Result<Option<T>, VaultError>,
) -> Result<Page<T>, VaultError> {
    let mut items = Vec::with_capacity(limit);
    let batch = limit + BATCH_EXTRA;
    loop {
        let rows = fetch(after, batch)?;
        let (count, exhausted) = (rows.len(), rows.len() < batch);
        for (i, row) in rows.into_iter().enumerate() {
            let k = key(&row);
            after = Some(k);
            if let Some(item) = keep(row)? {
                items.push(item);
                if items.len() == limit {
                    let more = !exhausted || i + 1 < count;
                    return Ok(Page {
                        items,
                        next: more.then(|| k.to_string()),
                    });
                }
            }
        }
        if exhausted {
            return Ok(Page { items, next: None });
        }
    }
}

/// A page from `limit + 1` rows: the extra row only says there is more.
fn paged<T>(mut rows: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Page<T> {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(key) } else { None };
    Page { items: rows, next }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CaseRecord;

    use crate::vault::testing::staff_of;

    #[tokio::test]
    async fn a_row_the_query_lets_through_wrongly_is_still_not_shown() {
        let (_dir, vault) = crate::vault::testing::node().await;
        let op = Principal::LocalOperator;
        let mut mine = Vec::new();
        for i in 0..7 {
            for home in ["home-1", "home-2"] {
                let record = CaseRecord {
                    name: format!("Synthetic {home} {i}"),
                    institution: Some(home.into()),
                    ..CaseRecord::default()
                };
                let child = vault.add_child(&op, record).unwrap();
                if home == "home-1" {
                    mine.push(child);
                }
            }
        }
        let staff = staff_of("home-1");
        // The right filter and a wrong one (every child) give the same rows.
        let page = PageRequest::new(Some(3), None, None).unwrap();
        let mut shown = Vec::new();
        for filter in [ChildFilter::Institution("home-1".into()), ChildFilter::All] {
            let mut ids = Vec::new();
            let mut page = page.clone();
            loop {
                let got = vault.children_page_with(&staff, &filter, &page).unwrap();
                assert!(got.items.len() <= 3);
                ids.extend(got.items.iter().map(|c| c.id));
                match got.next {
                    Some(next) => page.after = Some(next),
                    None => break,
                }
            }
            shown.push(ids);
        }
        assert_eq!(shown[0], mine);
        assert_eq!(
            shown[1], mine,
            "the policy dropped what the query let through"
        );
    }
}
