//! Children's case records: intake, edits, listing, and the view of one
//! child with its documents and checklist.

use chrono::Utc;
use serde::Serialize;

use super::access::{child_facts, Note};
use super::{Checklist, Purpose, Vault, VaultError};
use crate::domain::{
    valid_district, valid_place_id, CaseRecord, CaseRecordPatch, Child, ChildId, Document,
    Principal, Role, Scope,
};
use crate::policy::{Action, Resource};

/// One child with its documents and one purpose's checklist.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChildView {
    pub child: Child,
    pub documents: Vec<Document>,
    pub checklist: Checklist,
}

impl Vault {
    /// Takes a new child in; only the name is required.
    pub async fn add_child(
        &self,
        actor: &Principal,
        mut record: CaseRecord,
    ) -> Result<ChildId, VaultError> {
        // Shelter staff take children in for their own institution.
        if let Principal::User(u) = actor {
            if let (Role::ShelterStaff, Scope::Institution(i), None) =
                (u.role, &u.scope, &record.institution)
            {
                record.institution = Some(i.clone());
            }
        }
        validate(&record)?;
        let now = Utc::now();
        let child = Child {
            id: ChildId::new(),
            record,
            created_at: now,
            created_by: actor.label(),
            updated_at: now,
            origin: None,
        };
        self.decide(
            actor,
            Action::CreateChild,
            &Resource::Child(child_facts(&child)),
            None,
            Note::default(),
            || VaultError::Denied(Action::CreateChild.as_str()),
        )?;
        self.db.insert_child(&child)?;
        tracing::info!(child = %child.id, "child added");
        Ok(child.id)
    }

    /// Changes fields of a child's record.
    pub async fn edit_child(
        &self,
        actor: &Principal,
        id: ChildId,
        patch: CaseRecordPatch,
    ) -> Result<Child, VaultError> {
        let mut child = self.authorize_child(actor, Action::EditChild, id, Note::default())?;
        if patch.is_empty() {
            return Err(VaultError::Invalid("nothing to change".into()));
        }
        let placement = (
            child.record.institution.clone(),
            child.record.district.clone(),
        );
        patch.apply(&mut child.record);
        validate(&child.record)?;
        if placement
            != (
                child.record.institution.clone(),
                child.record.district.clone(),
            )
        {
            // Moving a child is allowed only into a place the editor may also edit.
            self.decide(
                actor,
                Action::EditChild,
                &Resource::Child(child_facts(&child)),
                None,
                Note::default(),
                || VaultError::Denied("moving the child there"),
            )?;
        }
        child.updated_at = Utc::now();
        self.db.update_child(id, &child.record, child.updated_at)?;
        tracing::info!(child = %id, "child edited");
        Ok(child)
    }

    /// Every child on this node.
    /// The children on this node that `actor` may see. The listing is one
    /// audited decision; each child is then filtered by the same policies.
    pub async fn list_children(&self, actor: &Principal) -> Result<Vec<Child>, VaultError> {
        self.authorize_node(actor, Action::ListChildren, Note::default())?;
        let mut visible = Vec::new();
        for child in self.db.children()? {
            if self.may(actor, Action::ReadRecord, &child)? {
                visible.push(child);
            }
        }
        Ok(visible)
    }

    /// One child, its documents and the checklist for `purpose`.
    pub async fn show_child(
        &self,
        actor: &Principal,
        id: ChildId,
        purpose: Purpose,
    ) -> Result<ChildView, VaultError> {
        let child = self.authorize_child(
            actor,
            Action::ReadRecord,
            id,
            Note {
                target: None,
                purpose: Some(purpose),
            },
        )?;
        self.view_of(child, purpose)
    }

    /// A child's view, for a caller that has already been authorized.
    pub(super) fn view_of(&self, child: Child, purpose: Purpose) -> Result<ChildView, VaultError> {
        let id = child.id;
        let documents = self.db.documents_of(id)?;
        let checklist = self.checklists.evaluate(purpose, &documents);
        Ok(ChildView {
            child,
            documents,
            checklist,
        })
    }

    pub(super) fn child(&self, id: ChildId) -> Result<Child, VaultError> {
        self.db
            .child(id)?
            .ok_or_else(|| VaultError::UnknownChild(id.to_string()))
    }
}

/// Field rules of a case record (also applied to one arriving in a
/// bundle). Errors name the field, never its value.
pub(super) fn validate(r: &CaseRecord) -> Result<(), VaultError> {
    let invalid = |m: &str| Err(VaultError::Invalid(m.to_string()));
    if r.name.trim().is_empty() {
        return invalid("the child's name is required");
    }
    if r.name.chars().count() > 200 {
        return invalid("the name is longer than 200 characters");
    }
    let today = Utc::now().date_naive();
    if r.date_of_birth.is_some_and(|d| d > today) {
        return invalid("the date of birth is in the future");
    }
    if r.rescue_date.is_some_and(|d| d > today) {
        return invalid("the rescue date is in the future");
    }
    if r.estimated_age.is_some_and(|a| a > 25) {
        return invalid("the estimated age must be 0-25 years");
    }
    if r.institution.as_ref().is_some_and(|i| !valid_place_id(i)) {
        return invalid("the institution id must be 1-64 of a-z 0-9 - _ .");
    }
    if r.district.as_ref().is_some_and(|d| !valid_district(d)) {
        return invalid("the district must be written STATE/DISTRICT (a-z 0-9 - _ .)");
    }
    let texts = [
        &r.home_state,
        &r.home_district,
        &r.institution,
        &r.rescue_place,
        &r.cwc_case_number,
    ];
    if texts
        .iter()
        .any(|t| t.as_ref().is_some_and(|s| s.chars().count() > 200))
        || r.languages.iter().any(|l| l.chars().count() > 50)
        || r.notes.as_ref().is_some_and(|n| n.chars().count() > 10_000)
    {
        return invalid("a field is longer than allowed (200 characters; notes 10,000)");
    }
    Ok(())
}
