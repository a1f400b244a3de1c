//! The gate every use case passes: look up what is asked about, ask the
//! policies, write the decision to the audit log (before anything is
//! returned), and refuse what is not allowed. A refusal about a child or a
//! document reads exactly like "no such child/document", so guessing ids
//! reveals nothing.

use super::{Vault, VaultError};
use crate::audit::{Entry, Outcome};
use crate::domain::{
    Child, ChildId, DocKind, Document, DocumentId, Grant, Principal, Purpose, TokenId, UserId,
};
use crate::policy::{Action, ChildFacts, DocumentFacts, GrantFacts, Resource};
use crate::store::BlobKey;

/// Extra facts an audit entry may carry.
#[derive(Debug, Default, Clone)]
pub(super) struct Note {
    /// Another opaque id the action names (user, token, grant, department, bundle).
    pub target: Option<String>,
    pub purpose: Option<Purpose>,
}

impl Note {
    pub fn target(id: impl ToString) -> Note {
        Note {
            target: Some(id.to_string()),
            purpose: None,
        }
    }
}

pub(super) fn child_facts(child: &Child) -> ChildFacts {
    ChildFacts {
        id: child.id,
        institution: child.record.institution.clone(),
        district: child.record.district.clone(),
        transferred_in: child.origin.is_some(),
    }
}

impl Vault {
    /// Decides, audits, and refuses with `refusal` when denied.
    pub(super) fn decide(
        &self,
        who: &Principal,
        action: Action,
        resource: &Resource,
        grant: Option<&Grant>,
        note: Note,
        refusal: impl FnOnce() -> VaultError,
    ) -> Result<(), VaultError> {
        let facts = grant.map(GrantFacts::from);
        let decision = self
            .policies
            .authorize(who, action, resource, facts.as_ref(), self.now());
        self.record(
            who,
            action,
            resource.child_id(),
            resource.document_id(),
            grant,
            note,
            decision.allowed,
            decision.policies,
        )?;
        if decision.allowed {
            Ok(())
        } else {
            Err(refusal())
        }
    }

    /// Appends one decision to the audit log; an error here fails the request.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        who: &Principal,
        action: Action,
        child: Option<ChildId>,
        document: Option<DocumentId>,
        grant: Option<&Grant>,
        note: Note,
        allowed: bool,
        policies: Vec<String>,
    ) -> Result<(), VaultError> {
        let purpose = note.purpose.or(grant.map(|g| g.purpose));
        self.audit.append(Entry {
            who: who.label(),
            role: who.role_label().to_string(),
            action: action.as_str().to_string(),
            decision: if allowed {
                Outcome::Allow
            } else {
                Outcome::Deny
            },
            child: child.map(|c| c.to_string()),
            document: document.map(|d| d.to_string()),
            target: note.target,
            grant: grant.map(|g| g.id.to_string()),
            purpose: purpose.map(|p| p.as_str().to_string()),
            policies,
        })?;
        Ok(())
    }

    /// Audits the refusal of an action on an id that does not exist.
    pub(super) fn refuse_unknown(
        &self,
        who: &Principal,
        action: Action,
        child: Option<ChildId>,
        document: Option<DocumentId>,
    ) -> Result<(), VaultError> {
        self.record(
            who,
            action,
            child,
            document,
            None,
            Note::default(),
            false,
            Vec::new(),
        )
    }

    /// A node-wide action (listing, administration, receiving bundles).
    pub(super) fn authorize_node(
        &self,
        who: &Principal,
        action: Action,
        note: Note,
    ) -> Result<(), VaultError> {
        self.decide(who, action, &Resource::Node, None, note, || {
            VaultError::Denied(action.as_str())
        })
    }

    /// An action on one child; returns the child. An unknown child and a
    /// refused one give the same error.
    pub(super) fn authorize_child(
        &self,
        who: &Principal,
        action: Action,
        id: ChildId,
        note: Note,
    ) -> Result<Child, VaultError> {
        let refusal = || VaultError::UnknownChild(id.to_string());
        let Some(child) = self.db.child(id)? else {
            self.refuse_unknown(who, action, Some(id), None)?;
            return Err(refusal());
        };
        let grant = self.live_grant(who, id, None)?;
        let resource = Resource::Child(child_facts(&child));
        self.decide(who, action, &resource, grant.as_ref(), note, refusal)?;
        Ok(child)
    }

    /// An action on one document; returns it and its blob key. An unknown
    /// document and a refused one give the same error.
    pub(super) fn authorize_document(
        &self,
        who: &Principal,
        action: Action,
        id: DocumentId,
    ) -> Result<(Document, BlobKey), VaultError> {
        let refusal = || VaultError::UnknownDocument(id.to_string());
        let found = match self.document_and_key(id) {
            Ok(found) => Some(found),
            Err(VaultError::UnknownDocument(_)) => None,
            Err(e) => return Err(e),
        };
        let Some((doc, key)) = found else {
            self.refuse_unknown(who, action, None, Some(id))?;
            return Err(refusal());
        };
        let child = self.child(doc.child_id)?;
        let grant = self.live_grant(who, child.id, Some(doc.kind))?;
        let resource = Resource::Document(
            child_facts(&child),
            DocumentFacts {
                id: doc.id,
                kind: doc.kind,
            },
        );
        self.decide(
            who,
            action,
            &resource,
            grant.as_ref(),
            Note::default(),
            refusal,
        )?;
        Ok((doc, key))
    }

    /// The user's unrevoked grant for `child` (covering `kind`, if given)
    /// that lasts longest. Expiry is left to the policies, so an expired
    /// grant is named in the audit entry of the refusal.
    fn live_grant(
        &self,
        who: &Principal,
        child: ChildId,
        kind: Option<DocKind>,
    ) -> Result<Option<Grant>, VaultError> {
        let Principal::User(user) = who else {
            return Ok(None);
        };
        Ok(self
            .db
            .grants(Some(user.id), Some(child))?
            .into_iter()
            .filter(|g| g.revoked_at.is_none())
            .filter(|g| kind.is_none_or(|k| g.kinds.contains(&k)))
            .max_by_key(|g| g.until))
    }

    /// Would `who` be allowed `action` on `child`? Not audited: used only to
    /// filter a listing whose own decision was audited.
    pub(super) fn may(
        &self,
        who: &Principal,
        action: Action,
        child: &Child,
    ) -> Result<bool, VaultError> {
        let grant = self.live_grant(who, child.id, None)?;
        let facts = grant.as_ref().map(GrantFacts::from);
        Ok(self
            .policies
            .authorize(
                who,
                action,
                &Resource::Child(child_facts(child)),
                facts.as_ref(),
                self.now(),
            )
            .allowed)
    }
}

impl Vault {
    /// Audits something another department's node did, authenticated by
    /// its signature rather than by a user (a pushed bundle or receipt).
    pub(super) fn record_peer(
        &self,
        department: &str,
        action: Action,
        target: &str,
        allowed: bool,
    ) -> Result<(), VaultError> {
        self.record_event(
            format!("department:{department}"),
            "department",
            action.as_str(),
            allowed,
            Some(target.to_string()),
        )
    }

    /// Audits a login: who logged in, or a refused attempt (whose name is
    /// not written: it may be someone's mistyped password). `outcome` is
    /// `ok`, `refused`, `throttled` or `password-change-required`, kept as
    /// the entry's target.
    pub(super) fn record_login(
        &self,
        who: Option<&Principal>,
        outcome: &str,
    ) -> Result<(), VaultError> {
        self.record_event(
            who.map_or("anonymous".into(), Principal::label),
            who.map_or("none", Principal::role_label),
            "login",
            outcome == "ok",
            Some(format!("login:{outcome}")),
        )
    }

    /// Audits a request whose bearer token was refused: `unknown` (no
    /// such token; nothing of it is written), `expired`, `revoked` or
    /// `user-disabled` (then with the token's id).
    pub(super) fn record_refused_token(
        &self,
        state: &str,
        id: Option<TokenId>,
    ) -> Result<(), VaultError> {
        self.record_refused_credential("token", state, id.map(|i| i.to_string()))
    }

    /// Audits a request whose browser session was refused: `unknown`,
    /// `ended` (idle or past its absolute limit) or `user-disabled` (then
    /// with the session's id).
    pub(super) fn record_refused_session(
        &self,
        state: &str,
        id: Option<crate::domain::SessionId>,
    ) -> Result<(), VaultError> {
        self.record_refused_credential("session", state, id.map(|i| i.to_string()))
    }

    /// Audits a refused credential of `kind` (`token`, `session`): its
    /// state, and its id when it is known.
    fn record_refused_credential(
        &self,
        kind: &str,
        state: &str,
        id: Option<String>,
    ) -> Result<(), VaultError> {
        let target = match id {
            Some(id) => format!("{kind}:{id}:{state}"),
            None => format!("{kind}:{state}"),
        };
        self.record_event(
            "anonymous".into(),
            "none",
            "authenticate",
            false,
            Some(target),
        )
    }

    /// Audits an act of a user on an account (their own token, their own
    /// password) that no policy decides.
    pub(super) fn record_account_event(
        &self,
        who: &Principal,
        action: &str,
        target: UserId,
        allowed: bool,
    ) -> Result<(), VaultError> {
        self.record_event(
            who.label(),
            who.role_label(),
            action,
            allowed,
            Some(target.to_string()),
        )
    }

    /// Audits a request that named a malformed id (`what`: child,
    /// document…): refused like an unknown one. The text sent is not kept.
    pub fn refuse_malformed_id(&self, who: &Principal, what: &str) -> Result<(), VaultError> {
        self.record_event(
            who.label(),
            who.role_label(),
            "lookup",
            false,
            Some(format!("malformed:{what}")),
        )
    }

    /// Audits a refused push from another node, or unsigned bytes sent to
    /// the inbox: `source` is the department the signed envelope names
    /// (none when nothing was signed), `why` a short stable reason.
    pub(super) fn record_inbox_refusal(
        &self,
        source: Option<&str>,
        why: &str,
    ) -> Result<(), VaultError> {
        self.record_event(
            source.map_or("anonymous".into(), |s| format!("department:{s}")),
            if source.is_some() {
                "department"
            } else {
                "none"
            },
            Action::ReceiveTransfer.as_str(),
            false,
            Some(format!("inbox:{why}")),
        )
    }

    /// An audit entry that no policy decided and that names no child.
    pub(super) fn record_event(
        &self,
        who: String,
        role: &str,
        action: &str,
        allowed: bool,
        target: Option<String>,
    ) -> Result<(), VaultError> {
        self.audit.append(Entry {
            who,
            role: role.to_string(),
            action: action.to_string(),
            decision: if allowed {
                Outcome::Allow
            } else {
                Outcome::Deny
            },
            child: None,
            document: None,
            target,
            grant: None,
            purpose: None,
            policies: Vec::new(),
        })?;
        Ok(())
    }
}
