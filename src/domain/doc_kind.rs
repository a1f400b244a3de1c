//! The kinds of paper a child's case holds (DESIGN.md, "The problem").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One kind of case paper.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// First Information Report / police report.
    Fir,
    /// Injury report, health checks.
    MedicalReport,
    /// Doctor's certificate before the journey home.
    FitToTravel,
    /// Counsellor's notes and reports.
    CounsellingReport,
    /// Official release certificate issued by government.
    ReleaseCertificate,
    /// The child's statement for the case.
    LegalStatement,
    /// Child Welfare Committee orders (placement, restoration).
    CwcOrder,
    /// Social Investigation Report (SIR).
    SocialInvestigation,
    /// Individual Care Plan (ICP).
    CarePlan,
    /// Bank account opened for the child.
    BankAccount,
    /// Aadhaar, birth certificate, school leaving certificate, ration card.
    Identity,
    /// Learning-level assessment / report card.
    EducationReport,
    /// Anything else, with a title.
    Other,
}

impl DocKind {
    /// Every kind, in the order of the design's table.
    pub const ALL: [DocKind; 13] = [
        DocKind::Fir,
        DocKind::MedicalReport,
        DocKind::FitToTravel,
        DocKind::CounsellingReport,
        DocKind::ReleaseCertificate,
        DocKind::LegalStatement,
        DocKind::CwcOrder,
        DocKind::SocialInvestigation,
        DocKind::CarePlan,
        DocKind::BankAccount,
        DocKind::Identity,
        DocKind::EducationReport,
        DocKind::Other,
    ];

    /// The stable snake_case name used on the command line, in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Fir => "fir",
            DocKind::MedicalReport => "medical_report",
            DocKind::FitToTravel => "fit_to_travel",
            DocKind::CounsellingReport => "counselling_report",
            DocKind::ReleaseCertificate => "release_certificate",
            DocKind::LegalStatement => "legal_statement",
            DocKind::CwcOrder => "cwc_order",
            DocKind::SocialInvestigation => "social_investigation",
            DocKind::CarePlan => "care_plan",
            DocKind::BankAccount => "bank_account",
            DocKind::Identity => "identity",
            DocKind::EducationReport => "education_report",
            DocKind::Other => "other",
        }
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name that is not in the list.
#[derive(Debug, thiserror::Error)]
#[error("unknown document kind {0:?}; known kinds: {known}", known = known_kinds())]
pub struct UnknownDocKind(pub String);

fn known_kinds() -> String {
    DocKind::ALL.map(DocKind::as_str).join(", ")
}

impl FromStr for DocKind {
    type Err = UnknownDocKind;
    fn from_str(s: &str) -> Result<Self, UnknownDocKind> {
        DocKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownDocKind(super::text::outside_id(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for kind in DocKind::ALL {
            assert_eq!(kind.as_str().parse::<DocKind>().unwrap(), kind);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        assert!("passport".parse::<DocKind>().is_err());
    }
}
