//! Where a child's case stands: what retention rules are counted from.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of a child's case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// In a shelter home here (the state a record starts in).
    InCare,
    /// Handed over to another department.
    Transferred,
    /// Restored to the family or home state.
    Restored,
    /// The case is closed.
    Closed,
}

impl CaseState {
    pub const ALL: [CaseState; 4] = [
        CaseState::InCare,
        CaseState::Transferred,
        CaseState::Restored,
        CaseState::Closed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::InCare => "in_care",
            CaseState::Transferred => "transferred",
            CaseState::Restored => "restored",
            CaseState::Closed => "closed",
        }
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no case state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown case state {0:?} (in_care, transferred, restored, closed)")]
pub struct UnknownCaseState(pub String);

impl FromStr for CaseState {
    type Err = UnknownCaseState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaseState::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCaseState(crate::domain::text::outside_id(s)))
    }
}
