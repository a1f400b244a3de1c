//! Who acts: a user of the node (with a role and a scope), or the local
//! operator running commands on the node itself.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::UserId;

/// What a user does, and so what the policies let them do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Case worker in a shelter home.
    ShelterStaff,
    /// Member of a Child Welfare Committee.
    CwcMember,
    /// District Child Protection Unit officer.
    DcpuOfficer,
    /// Officer of a (home-state) Social Welfare Department.
    SwdOfficer,
    /// NGO field worker or legal aid: reads only what a grant allows.
    SupportPerson,
    /// Node operator: users, keys, departments; never children's papers.
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::ShelterStaff,
        Role::CwcMember,
        Role::DcpuOfficer,
        Role::SwdOfficer,
        Role::SupportPerson,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ShelterStaff => "shelter_staff",
            Role::CwcMember => "cwc_member",
            Role::DcpuOfficer => "dcpu_officer",
            Role::SwdOfficer => "swd_officer",
            Role::SupportPerson => "support_person",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of the roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected one of: shelter_staff, cwc_member, dcpu_officer, swd_officer, support_person, admin"
)]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRole)
    }
}

/// Where a user works: `institution:ID`, `district:STATE/DISTRICT` or
/// `department:ID`. Ids are lower-case letters, digits, `-`, `_` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Institution(String),
    District(String),
    Department(String),
}

impl Scope {
    /// The kind of place (`institution`, `district`, `department`).
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Institution(_) => "institution",
            Scope::District(_) => "district",
            Scope::Department(_) => "department",
        }
    }

    /// The place's id (for a district, `STATE/DISTRICT`).
    pub fn value(&self) -> &str {
        match self {
            Scope::Institution(v) | Scope::District(v) | Scope::Department(v) => v,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.value())
    }
}

/// Checks a place id: 1 to 64 of `a-z 0-9 - _ .`.
pub fn valid_place_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.'))
}

/// Checks a district written `STATE/DISTRICT`.
pub fn valid_district(s: &str) -> bool {
    matches!(s.split_once('/'), Some((state, district)) if valid_place_id(state) && valid_place_id(district))
}

/// A scope not written `institution:ID`, `district:STATE/DISTRICT` or
/// `department:ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid scope: expected institution:ID, district:STATE/DISTRICT or department:ID (lower-case letters, digits, - _ .)")]
pub struct InvalidScope;

impl FromStr for Scope {
    type Err = InvalidScope;
    fn from_str(s: &str) -> Result<Self, InvalidScope> {
        let (kind, value) = s.split_once(':').ok_or(InvalidScope)?;
        match kind {
            "institution" if valid_place_id(value) => Ok(Scope::Institution(value.into())),
            "district" if valid_district(value) => Ok(Scope::District(value.into())),
            "department" if valid_place_id(value) => Ok(Scope::Department(value.into())),
            _ => Err(InvalidScope),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A user account of this node. `name` is a login name, never shown to
/// other departments and never written to the audit log (the id is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    /// `institution:ID`, `district:STATE/DISTRICT` or `department:ID`.
    #[schema(value_type = String, example = "institution:jaipur-home-1")]
    pub scope: Scope,
    pub disabled: bool,
    pub has_password: bool,
    /// The password was set by someone else (at creation, by a reset) and
    /// must be changed before the account can be used.
    pub must_change_password: bool,
    pub created_at: DateTime<Utc>,
}

/// Who asks the vault to do something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A command run on the node by whoever holds its data directory and
    /// keys (and so could decrypt everything anyway). Audited like anyone.
    LocalOperator,
    /// An authenticated user.
    User(User),
}

impl Principal {
    /// The opaque label stored as "added by" and in the audit log; never a
    /// person's name.
    pub fn label(&self) -> String {
        match self {
            Principal::LocalOperator => "local-operator".to_string(),
            Principal::User(u) => format!("user:{}", u.id),
        }
    }

    /// The role written to the audit log.
    pub fn role_label(&self) -> &'static str {
        match self {
            Principal::LocalOperator => "operator",
            Principal::User(u) => u.role.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print_back() {
        for s in [
            "institution:cci-jaipur-07",
            "district:rajasthan/jaipur",
            "department:br-swd-patna",
        ] {
            assert_eq!(s.parse::<Scope>().unwrap().to_string(), s);
        }
        for bad in [
            "",
            "institution:",
            "district:rajasthan",
            "district:/jaipur",
            "department:BR",
            "place:x",
            "institution:a/b",
            "institution:../x",
        ] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
