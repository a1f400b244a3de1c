//! The facts a decision is made on, in handover's terms, and their Cedar
//! form (entities, request, context). Only ids, roles, places, kinds and
//! times: never a name or a document's content.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use cedar_policy::{Context, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use chrono::{DateTime, Utc};

use crate::domain::{ChildId, DocKind, DocumentId, GrantId, Principal, Purpose, Scope};

/// What is asked. Names match the actions of `policies/handover.cedarschema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ListChildren,
    Administer,
    ReceiveTransfer,
    AuditNode,
    CreateChild,
    EditChild,
    MoveChild,
    EraseChild,
    ChangeCaseState,
    ReadRecord,
    AddDocument,
    CreateTransfer,
    ApproveTransfer,
    GrantAccess,
    ReadAccessLog,
    ReadDocument,
}

impl Action {
    pub const ALL: [Action; 16] = [
        Action::ListChildren,
        Action::Administer,
        Action::ReceiveTransfer,
        Action::AuditNode,
        Action::CreateChild,
        Action::EditChild,
        Action::MoveChild,
        Action::EraseChild,
        Action::ChangeCaseState,
        Action::ReadRecord,
        Action::AddDocument,
        Action::CreateTransfer,
        Action::ApproveTransfer,
        Action::GrantAccess,
        Action::ReadAccessLog,
        Action::ReadDocument,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::ListChildren => "list_children",
            Action::Administer => "administer",
            Action::ReceiveTransfer => "receive_transfer",
            Action::AuditNode => "audit_node",
            Action::CreateChild => "create_child",
            Action::EditChild => "edit_child",
            Action::MoveChild => "move_child",
            Action::EraseChild => "erase_child",
            Action::ChangeCaseState => "change_case_state",
            Action::ReadRecord => "read_record",
            Action::AddDocument => "add_document",
            Action::CreateTransfer => "create_transfer",
            Action::ApproveTransfer => "approve_transfer",
            Action::GrantAccess => "grant_access",
            Action::ReadAccessLog => "read_access_log",
            Action::ReadDocument => "read_document",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a child is placed and how it came to this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildFacts {
    pub id: ChildId,
    pub institution: Option<String>,
    pub district: Option<String>,
    pub transferred_in: bool,
}

/// A document's id and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentFacts {
    pub id: DocumentId,
    pub kind: DocKind,
}

/// The requesting user's live grant for the child concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantFacts {
    pub id: GrantId,
    pub child: ChildId,
    pub kinds: Vec<DocKind>,
    pub purpose: Purpose,
    pub until: DateTime<Utc>,
}

impl From<&crate::domain::Grant> for GrantFacts {
    fn from(g: &crate::domain::Grant) -> Self {
        GrantFacts {
            id: g.id,
            child: g.child,
            kinds: g.kinds.clone(),
            purpose: g.purpose,
            until: g.until,
        }
    }
}

/// What an action is applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// This node (listing, administration, receiving bundles).
    Node,
    Child(ChildFacts),
    Document(ChildFacts, DocumentFacts),
}

impl Resource {
    /// The child concerned, if any.
    pub fn child_id(&self) -> Option<ChildId> {
        match self {
            Resource::Node => None,
            Resource::Child(c) | Resource::Document(c, _) => Some(c.id),
        }
    }

    /// The document concerned, if any.
    pub fn document_id(&self) -> Option<DocumentId> {
        match self {
            Resource::Document(_, d) => Some(d.id),
            _ => None,
        }
    }
}

/// Entity type names, parsed once (parsing is the costly part of a uid).
static TYPES: LazyLock<HashMap<&'static str, EntityTypeName>> = LazyLock::new(|| {
    ["Operator", "User", "Node", "Child", "Document", "Action"]
        .into_iter()
        .map(|t| (t, t.parse().expect("entity type names are valid")))
        .collect()
});

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(TYPES[ty].clone(), EntityId::new(id))
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_string())
}

fn entity(uid: EntityUid, attrs: HashMap<String, RestrictedExpression>) -> Entity {
    Entity::new(uid, attrs, HashSet::new()).expect("attribute values are literals")
}

/// The principal's uid and entity.
pub(super) fn principal_entity(p: &Principal) -> (EntityUid, Entity) {
    match p {
        Principal::LocalOperator => {
            let u = uid("Operator", "local");
            (u.clone(), Entity::new_no_attrs(u, HashSet::new()))
        }
        Principal::User(user) => {
            let u = uid("User", &user.id.to_string());
            let mut attrs = HashMap::from([
                ("role".to_string(), string(user.role.as_str())),
                (
                    "active".to_string(),
                    RestrictedExpression::new_bool(!user.disabled),
                ),
            ]);
            let place = match &user.scope {
                Scope::Institution(v) => ("institution", v),
                Scope::District(v) => ("district", v),
                Scope::Department(v) => ("department", v),
            };
            attrs.insert(place.0.to_string(), string(place.1));
            (u.clone(), entity(u, attrs))
        }
    }
}

fn child_entity(c: &ChildFacts, department: &str) -> (EntityUid, Entity) {
    let u = uid("Child", &c.id.to_string());
    let mut attrs = HashMap::from([
        ("department".to_string(), string(department)),
        (
            "transferred_in".to_string(),
            RestrictedExpression::new_bool(c.transferred_in),
        ),
    ]);
    if let Some(i) = &c.institution {
        attrs.insert("institution".into(), string(i));
    }
    if let Some(d) = &c.district {
        attrs.insert("district".into(), string(d));
    }
    (u.clone(), entity(u, attrs))
}

/// The resource's uid and the entities it needs.
pub(super) fn resource_entities(r: &Resource, department: &str) -> (EntityUid, Vec<Entity>) {
    match r {
        Resource::Node => {
            let u = uid("Node", department);
            let attrs = HashMap::from([("department".to_string(), string(department))]);
            (u.clone(), vec![entity(u, attrs)])
        }
        Resource::Child(c) => {
            let (u, e) = child_entity(c, department);
            (u, vec![e])
        }
        Resource::Document(c, d) => {
            let (cu, ce) = child_entity(c, department);
            let u = uid("Document", &d.id.to_string());
            let attrs = HashMap::from([
                (
                    "child".to_string(),
                    RestrictedExpression::new_entity_uid(cu),
                ),
                ("kind".to_string(), string(d.kind.as_str())),
            ]);
            (u.clone(), vec![ce, entity(u, attrs)])
        }
    }
}

pub(super) fn action_uid(a: Action) -> EntityUid {
    uid("Action", a.as_str())
}

pub(super) fn context(now: DateTime<Utc>, grant: Option<&GrantFacts>) -> Context {
    let mut pairs = vec![(
        "now".to_string(),
        RestrictedExpression::new_long(now.timestamp()),
    )];
    if let Some(g) = grant {
        let record = RestrictedExpression::new_record([
            (
                "child".to_string(),
                RestrictedExpression::new_entity_uid(uid("Child", &g.child.to_string())),
            ),
            (
                "kinds".to_string(),
                RestrictedExpression::new_set(g.kinds.iter().map(|k| string(k.as_str()))),
            ),
            ("purpose".to_string(), string(g.purpose.as_str())),
            (
                "until".to_string(),
                RestrictedExpression::new_long(g.until.timestamp()),
            ),
        ])
        .expect("grant record fields are distinct");
        pairs.push(("grant".to_string(), record));
    }
    Context::from_pairs(pairs).expect("context fields are distinct")
}
