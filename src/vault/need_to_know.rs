//! What a support person sees: only what the purpose of their grant needs
//! (a compensation claim needs the case facts, school enrolment the child's
//! age and languages, a restoration the way home), and only the documents
//! of the kinds granted. Everyone else sees what the policies let them see,
//! unchanged.
//!
//! | purpose | fields kept besides the name |
//! |---|---|
//! | `restoration` | sex, date of birth or age, home state and district, languages |
//! | `compensation_claim` | sex, date of birth or age, home state and district, rescue date and place, CWC case number |
//! | `school_enrolment` | sex, date of birth or age, home state, languages |
//!
//! Placement (institution, district), notes and every other field are
//! dropped; the origin of a child transferred in is dropped too.

use chrono::Utc;

use super::{Vault, VaultError};
use crate::domain::{CaseRecord, Child, Document, Grant, Principal, Purpose, Role};

/// The record cut down to what `purpose` needs.
pub(super) fn record_for(purpose: Purpose, r: &CaseRecord) -> CaseRecord {
    let mut out = CaseRecord {
        name: r.name.clone(),
        sex: r.sex,
        date_of_birth: r.date_of_birth,
        estimated_age: r.estimated_age,
        home_state: r.home_state.clone(),
        ..CaseRecord::default()
    };
    match purpose {
        Purpose::Restoration => {
            out.home_district = r.home_district.clone();
            out.languages = r.languages.clone();
        }
        Purpose::CompensationClaim => {
            out.home_district = r.home_district.clone();
            out.rescue_date = r.rescue_date;
            out.rescue_place = r.rescue_place.clone();
            out.cwc_case_number = r.cwc_case_number.clone();
        }
        Purpose::SchoolEnrolment => {
            out.languages = r.languages.clone();
        }
    }
    out
}

impl Vault {
    /// The support person's live grant for `child`, if `who` is one.
    /// `None` for every other role (who see what the policies allow).
    pub(super) fn support_grant(
        &self,
        who: &Principal,
        child: &Child,
    ) -> Result<Option<Option<Grant>>, VaultError> {
        let Principal::User(u) = who else {
            return Ok(None);
        };
        if u.role != Role::SupportPerson {
            return Ok(None);
        }
        let now = Utc::now();
        Ok(Some(
            self.db
                .grants(Some(u.id), Some(child.id))?
                .into_iter()
                .filter(|g| g.is_active(now))
                .max_by_key(|g| g.until),
        ))
    }

    /// `child` and `documents` as `who` may see them.
    pub(super) fn need_to_know(
        &self,
        who: &Principal,
        mut child: Child,
        documents: Vec<Document>,
    ) -> Result<(Child, Vec<Document>), VaultError> {
        match self.support_grant(who, &child)? {
            None => Ok((child, documents)),
            Some(None) => {
                // Allowed by a policy without a live grant: nothing beyond the name.
                child.record = CaseRecord {
                    name: child.record.name.clone(),
                    ..CaseRecord::default()
                };
                child.origin = None;
                Ok((child, Vec::new()))
            }
            Some(Some(grant)) => {
                child.record = record_for(grant.purpose, &child.record);
                child.origin = None;
                let documents = documents
                    .into_iter()
                    .filter(|d| grant.kinds.contains(&d.kind))
                    .collect();
                Ok((child, documents))
            }
        }
    }
}
