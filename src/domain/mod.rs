//! Plain types of the case: children, documents, document kinds, departments
//! and who acted. No I/O and no crypto here; every other module speaks these.

mod child;
mod department;
mod doc_kind;
mod document;
mod ids;

pub use child::{CaseRecord, CaseRecordPatch, Child, Origin, Sex};
pub use department::{DepartmentCard, Directory};
pub use doc_kind::{DocKind, UnknownDocKind};
pub use document::{Document, MediaType};
pub use ids::{ChildId, DocumentId, InvalidId};

/// Who performed an operation. Later issues add users; today every command
/// run on the node itself acts as the local operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A command run on the node by whoever holds its data directory.
    LocalOperator,
}

impl Actor {
    /// The opaque label stored as "added by"; never a person's name.
    pub fn label(&self) -> String {
        match self {
            Actor::LocalOperator => "local-operator".to_string(),
        }
    }
}
