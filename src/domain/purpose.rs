//! Why papers are needed: the purposes checklists and grants name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why papers are needed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Sending the child home to their state.
    Restoration,
    /// A victim compensation claim.
    CompensationClaim,
    /// Enrolling the child in school.
    SchoolEnrolment,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [
        Purpose::Restoration,
        Purpose::CompensationClaim,
        Purpose::SchoolEnrolment,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Restoration => "restoration",
            Purpose::CompensationClaim => "compensation_claim",
            Purpose::SchoolEnrolment => "school_enrolment",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A purpose that is not one of the purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected restoration, compensation_claim or school_enrolment")]
pub struct UnknownPurpose;

impl FromStr for Purpose {
    type Err = UnknownPurpose;
    fn from_str(s: &str) -> Result<Self, UnknownPurpose> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(UnknownPurpose)
    }
}
