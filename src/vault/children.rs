//! Children's case records: intake, edits, listing, and the view of one
//! child with its documents and checklist.

use chrono::Utc;
use serde::Serialize;

use super::access::{child_facts, Note};
use super::{Checklist, Purpose, Vault, VaultError};
use crate::domain::{
    text, valid_district, valid_place_id, CaseRecord, CaseRecordPatch, Child, ChildId, Document,
    PageRequest, Principal, Role, Scope,
};
use crate::policy::{Action, Resource};

/// One child with its documents and one purpose's checklist.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChildView {
    pub child: Child,
    pub documents: Vec<Document>,
    pub checklist: Checklist,
}

impl ChildView {
    /// The refusal of a step that needs this child's checklist complete.
    pub(super) fn incomplete(&self) -> VaultError {
        VaultError::ChecklistIncomplete {
            child: self.child.id.to_string(),
            missing: self
                .checklist
                .missing
                .iter()
                .map(|k| k.to_string())
                .collect(),
        }
    }
}

impl Vault {
    /// Takes a new child in; only the name is required.
    pub fn add_child(
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
        self.known_district(record.district.as_deref())?;
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
    pub fn edit_child(
        &self,
        actor: &Principal,
        id: ChildId,
        patch: CaseRecordPatch,
    ) -> Result<Child, VaultError> {
        let mut child = self.authorize_child(actor, Action::EditChild, id, Note::default())?;
        if patch.is_empty() {
            return Err(VaultError::NothingToChange);
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
            // Where a child is placed decides who oversees it: that is a
            // move, its own action with its own reason.
            return Err(VaultError::PlacementByMoveOnly);
        }
        child.updated_at = Utc::now();
        self.db.update_child(id, &child.record, child.updated_at)?;
        tracing::info!(child = %id, "child edited");
        Ok(child)
    }

    /// Moves a child to another placement (institution, district, or
    /// both; `None` keeps that part), for `reason`. Decided on the child's
    /// current placement (`move_child`: its district's CWC or DCPU, or an
    /// SWD officer for a child transferred in); the new district must be on
    /// the node's list. The move and its reason are kept in the encrypted
    /// database; the audit entry names the move's id, never the reason.
    pub fn move_child(
        &self,
        actor: &Principal,
        id: ChildId,
        institution: Option<String>,
        district: Option<String>,
        reason: &str,
    ) -> Result<Child, VaultError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 || has_control(reason) {
            return Err(VaultError::ReasonRequired("a move"));
        }
        if institution.is_none() && district.is_none() {
            return Err(VaultError::MoveWithoutPlacement);
        }
        let move_id = uuid::Uuid::now_v7();
        let mut child = self.authorize_child(
            actor,
            Action::MoveChild,
            id,
            Note::target(format!("move:{move_id}")),
        )?;
        let from = (
            child.record.institution.clone(),
            child.record.district.clone(),
        );
        if let Some(i) = institution {
            child.record.institution = Some(i);
        }
        if let Some(d) = district {
            child.record.district = Some(d);
        }
        validate(&child.record)?;
        self.known_district(child.record.district.as_deref())?;
        let now = Utc::now();
        child.updated_at = now;
        self.db.move_child(
            &move_id.to_string(),
            &child,
            (from.0.as_deref(), from.1.as_deref()),
            reason,
            &actor.label(),
        )?;
        tracing::info!(child = %id, r#move = %move_id, "child moved");
        Ok(child)
    }

    /// Refuses a district that is not on the node's list.
    fn known_district(&self, district: Option<&str>) -> Result<(), VaultError> {
        match district {
            Some(d) if !self.districts.contains(d) => Err(VaultError::UnknownDistrict),
            _ => Ok(()),
        }
    }

    /// Every child `actor` may see, in name order: page after page of
    /// [`Vault::list_children_page`], so the query reads only the caller's
    /// scope (for those who want the whole list: the command line, the
    /// district's numbers).
    pub fn list_children(&self, actor: &Principal) -> Result<Vec<Child>, VaultError> {
        let mut all = Vec::new();
        let mut page = PageRequest {
            limit: crate::domain::MAX_LIMIT,
            ..PageRequest::default()
        };
        loop {
            let got = self.list_children_page(actor, &page)?;
            all.extend(got.items);
            match got.next {
                Some(next) => page.after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// One child, its documents and the checklist for `purpose`.
    pub fn show_child(
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
        // A support person sees only what their grant's purpose needs.
        let documents = self.db.documents_of(child.id)?;
        let (child, documents) = self.need_to_know(actor, child, documents)?;
        let checklist = self.checklists.evaluate(purpose, &documents);
        Ok(ChildView {
            child,
            documents,
            checklist,
        })
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
fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\n')
}

pub(super) fn validate(r: &CaseRecord) -> Result<(), VaultError> {
    let invalid = |field: &'static str, rule: &str| {
        Err(VaultError::InvalidField {
            field,
            rule: rule.to_string(),
        })
    };
    if r.name.trim().is_empty() {
        return invalid("name", "the child's name is required");
    }
    if r.name.chars().count() > 200 {
        return invalid("name", "the name is longer than 200 characters");
    }
    let today = Utc::now().date_naive();
    if r.date_of_birth.is_some_and(|d| d > today) {
        return invalid("date_of_birth", "the date of birth is in the future");
    }
    if r.rescue_date.is_some_and(|d| d > today) {
        return invalid("rescue_date", "the rescue date is in the future");
    }
    if r.estimated_age.is_some_and(|a| a > 25) {
        return invalid("estimated_age", "the estimated age must be 0-25 years");
    }
    if r.institution.as_ref().is_some_and(|i| !valid_place_id(i)) {
        return invalid(
            "institution",
            "the institution id must be 1-64 of a-z 0-9 - _ .",
        );
    }
    if r.district.as_ref().is_some_and(|d| !valid_district(d)) {
        return invalid(
            "district",
            "the district must be written STATE/DISTRICT (a-z 0-9 - _ .)",
        );
    }
    let texts = [
        &r.home_state,
        &r.home_district,
        &r.institution,
        &r.rescue_place,
        &r.cwc_case_number,
    ];
    if let Err(why) = text::line_rule(&r.name) {
        return invalid("name", &format!("the child's name is refused: {why}"));
    }
    for t in texts.iter().copied().flatten().chain(&r.languages) {
        if let Err(why) = text::line_rule(t) {
            return invalid(
                "record",
                &format!("a field of the record is refused: {why}"),
            );
        }
    }
    if let Some(Err(why)) = r.notes.as_deref().map(text::text_rule) {
        return invalid("notes", &format!("the notes are refused: {why}"));
    }
    if texts
        .iter()
        .any(|t| t.as_ref().is_some_and(|s| s.chars().count() > 200))
        || r.languages.iter().any(|l| l.chars().count() > 50)
        || r.notes.as_ref().is_some_and(|n| n.chars().count() > 10_000)
    {
        return invalid(
            "record",
            "a field is longer than allowed (200 characters; notes 10,000)",
        );
    }
    Ok(())
}
