//! Children's case records: intake, edits, listing, and the view of one
//! child with its documents and checklist.

use chrono::Utc;
use serde::Serialize;

use super::{Checklist, Purpose, Vault, VaultError};
use crate::domain::{
    valid_district, valid_place_id, CaseRecord, CaseRecordPatch, Child, ChildId, Document,
    Principal,
};

/// One child with its documents and one purpose's checklist.
#[derive(Debug, Clone, Serialize)]
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
        record: CaseRecord,
    ) -> Result<ChildId, VaultError> {
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
        self.db.insert_child(&child)?;
        tracing::info!(child = %child.id, "child added");
        Ok(child.id)
    }

    /// Changes fields of a child's record.
    pub async fn edit_child(
        &self,
        _actor: &Principal,
        id: ChildId,
        patch: CaseRecordPatch,
    ) -> Result<Child, VaultError> {
        if patch.is_empty() {
            return Err(VaultError::Invalid("nothing to change".into()));
        }
        let mut child = self.child(id)?;
        patch.apply(&mut child.record);
        validate(&child.record)?;
        child.updated_at = Utc::now();
        self.db.update_child(id, &child.record, child.updated_at)?;
        tracing::info!(child = %id, "child edited");
        Ok(child)
    }

    /// Every child on this node.
    pub async fn list_children(&self, _actor: &Principal) -> Result<Vec<Child>, VaultError> {
        Ok(self.db.children()?)
    }

    /// One child, its documents and the checklist for `purpose`.
    pub async fn show_child(
        &self,
        _actor: &Principal,
        id: ChildId,
        purpose: Purpose,
    ) -> Result<ChildView, VaultError> {
        let child = self.child(id)?;
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

/// Field rules of a case record. Errors name the field, never its value.
fn validate(r: &CaseRecord) -> Result<(), VaultError> {
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
