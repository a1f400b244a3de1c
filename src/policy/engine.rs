//! The loaded policy set and the one decision function.

use std::path::Path;

use std::collections::HashMap;

use cedar_policy::{ActionConstraint, Authorizer, Entities, PolicySet, Request};
use chrono::{DateTime, Utc};

use super::load::Sources;
use super::request::{action_uid, context, principal_entity, resource_entities};
use super::{Action, GrantFacts, PolicyError, Resource};
use crate::domain::Principal;

/// A validated policy set for one node's department.
pub struct Policies {
    /// The whole set sliced by action: each slice holds the policies whose
    /// action scope can match that action (unscoped ones are in every
    /// slice), so a request evaluates only policies that could apply. The
    /// schema has no action groups, so a scope `in [..]` is plain membership
    /// and the decision is the same as over the whole set.
    by_action: HashMap<Action, PolicySet>,
    authorizer: Authorizer,
    department: String,
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
        let (set, _schema) = sources.compile()?;
        let mut by_action = HashMap::new();
        for action in Action::ALL {
            let uid = action_uid(action);
            let mut slice = PolicySet::new();
            for p in set.policies() {
                let applies = match p.action_constraint() {
                    ActionConstraint::Any => true,
                    ActionConstraint::Eq(a) => a == uid,
                    ActionConstraint::In(list) => list.contains(&uid),
                };
                if applies {
                    slice
                        .add(p.clone())
                        .expect("ids are unique in the whole set");
                }
            }
            by_action.insert(action, slice);
        }
        Ok(Policies {
            count: set.policies().count(),
            by_action,
            authorizer: Authorizer::new(),
            department: department.to_string(),
        })
    }

    /// Checks a policy directory without starting anything; returns the
    /// number of policies.
    pub fn check(dir: Option<&Path>) -> Result<usize, PolicyError> {
        Ok(Policies::load(dir, "check")?.count)
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
            // The request is built by code from typed facts, and the
            // policies were validated against the schema at load; checking
            // each request against it again would double the cost.
            None,
        ) else {
            return deny;
        };
        let response = self
            .authorizer
            .is_authorized(&request, &self.by_action[&action], &entities);
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
