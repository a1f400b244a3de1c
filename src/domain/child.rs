//! A child's case record. Every field but the name may be filled in later.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::ChildId;

/// Sex as recorded at intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Transgender,
    Unknown,
}

/// A sex that is not one of the recorded values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected one of: female, male, transgender, unknown")]
pub struct UnknownSex;

impl Sex {
    /// The recorded value (`female`, `male`, `transgender`, `unknown`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Transgender => "transgender",
            Sex::Unknown => "unknown",
        }
    }
}

impl std::str::FromStr for Sex {
    type Err = UnknownSex;
    fn from_str(s: &str) -> Result<Self, UnknownSex> {
        match s {
            "female" | "f" => Ok(Sex::Female),
            "male" | "m" => Ok(Sex::Male),
            "transgender" | "t" => Ok(Sex::Transgender),
            "unknown" => Ok(Sex::Unknown),
            _ => Err(UnknownSex),
        }
    }
}

/// The case details of one child. Personal data: lives only in the encrypted
/// database and inside encrypted bundles, never in logs or clear files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<NaiveDate>,
    /// Age in years as estimated at intake, when the date of birth is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_age: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_district: Option<String>,
    /// Id of the shelter home (child care institution) the child lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution: Option<String>,
    /// Where the child is placed, `STATE/DISTRICT` (the district whose CWC
    /// and DCPU oversee the case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescue_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescue_place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwc_case_number: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Changes to a case record: each `Some` replaces that field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseRecordPatch {
    pub name: Option<String>,
    pub sex: Option<Sex>,
    pub date_of_birth: Option<NaiveDate>,
    pub estimated_age: Option<u8>,
    pub home_state: Option<String>,
    pub home_district: Option<String>,
    pub institution: Option<String>,
    pub district: Option<String>,
    pub rescue_date: Option<NaiveDate>,
    pub rescue_place: Option<String>,
    pub cwc_case_number: Option<String>,
    pub languages: Option<Vec<String>>,
    pub notes: Option<String>,
}

impl CaseRecordPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == CaseRecordPatch::default()
    }

    /// Applies every set field to `record`.
    pub fn apply(self, record: &mut CaseRecord) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { record.$f = v; } )* };
        }
        macro_rules! set_opt {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { record.$f = Some(v); } )* };
        }
        set!(name, languages);
        set_opt!(
            sex,
            date_of_birth,
            estimated_age,
            home_state,
            home_district,
            institution,
            district,
            rescue_date,
            rescue_place,
            cwc_case_number,
            notes
        );
    }
}

/// Where an imported child came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Origin {
    /// The department that sent the bundle.
    pub source_department: String,
    pub bundle_id: String,
    /// The child's id at the source.
    pub source_child_id: ChildId,
    /// Where the source had placed the child: the source department's own
    /// place ids, kept for the record. They grant nothing here: this
    /// node's policies read only the child's placement at this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_institution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_district: Option<String>,
}

/// A child known to this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Child {
    pub id: ChildId,
    #[serde(flatten)]
    pub record: CaseRecord,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    /// Set when the child arrived in a bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_replaces_only_set_fields() {
        let mut r = CaseRecord {
            name: "A".into(),
            home_state: Some("Bihar".into()),
            ..Default::default()
        };
        let patch = CaseRecordPatch {
            home_district: Some("Gaya".into()),
            languages: Some(vec!["hi".into()]),
            ..Default::default()
        };
        assert!(!patch.is_empty());
        patch.apply(&mut r);
        assert_eq!(r.name, "A");
        assert_eq!(r.home_state.as_deref(), Some("Bihar"));
        assert_eq!(r.home_district.as_deref(), Some("Gaya"));
        assert_eq!(r.languages, vec!["hi".to_string()]);
        assert!(CaseRecordPatch::default().is_empty());
    }
}
