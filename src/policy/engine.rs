//! The loaded policy set and the one decision function.

use std::path::Path;

use cedar_policy::{Authorizer, Entities, PolicySet, Request, Schema};
use chrono::{DateTime, Utc};

use super::load::Sources;
use super::request::{action_uid, context, principal_entity, resource_entities};
use super::{Action, GrantFacts, PolicyError, Resource};
use crate::domain::Principal;

/// A validated policy set for one node's department.
pub struct Policies {
    set: PolicySet,
    schema: Schema,
    authorizer: Authorizer,
    department: String,
    origin: String,
    count: usize,
}

/// The outcome of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Ids (`FILE#N`) of the policies that decided: the permits that
    /// allowed, or the forbids that denied (empty: nothing permitted it).
    pub policies: Vec<String>,
}

impl Policies {
    /// Loads `dir`, or the policies built into the binary when `None`, for
    /// the node of `department`.
    pub fn load(dir: Option<&Path>, department: &str) -> Result<Policies, PolicyError> {
        let sources = match dir {
            Some(d) => Sources::read_dir(d)?,
            None => Sources::embedded(),
        };
        let (set, schema) = sources.compile()?;
        Ok(Policies {
            count: set.policies().count(),
            set,
            schema,
            authorizer: Authorizer::new(),
            department: department.to_string(),
            origin: sources.origin,
        })
    }

    /// Checks a policy directory without starting anything; returns the
    /// number of policies.
    pub fn check(dir: Option<&Path>) -> Result<usize, PolicyError> {
        Ok(Policies::load(dir, "check")?.count)
    }

    /// Where the policies came from (a directory, or built in).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of policies loaded.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// May `principal` do `action` to `resource` at `now`, given the
    /// principal's live grant for the child concerned (if any)? Deny by
    /// default: anything that cannot be evaluated is denied.
    pub fn authorize(
        &self,
        principal: &Principal,
        action: Action,
        resource: &Resource,
        grant: Option<&GrantFacts>,
        now: DateTime<Utc>,
    ) -> Decision {
        let deny = Decision {
            allowed: false,
            policies: Vec::new(),
        };
        let (p_uid, p_entity) = principal_entity(principal);
        let (r_uid, mut entities) = resource_entities(resource, &self.department);
        entities.push(p_entity);
        let Ok(entities) = Entities::from_entities(entities, None) else {
            return deny;
        };
        let Ok(request) = Request::new(
            p_uid,
            action_uid(action),
            r_uid,
            context(now, grant),
            Some(&self.schema),
        ) else {
            return deny;
        };
        let response = self
            .authorizer
            .is_authorized(&request, &self.set, &entities);
        let allowed = response.decision() == cedar_policy::Decision::Allow
            && response.diagnostics().errors().next().is_none();
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| id.to_string())
            .collect();
        policies.sort();
        Decision { allowed, policies }
    }
}
