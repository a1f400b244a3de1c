//! Plain types of the case: children, documents, document kinds, departments
//! and who acted. No I/O and no crypto here; every other module speaks these.

mod case_state;
mod child;
mod delivery;
mod department;
mod doc_kind;
mod document;
mod error_class;
mod grant;
mod ids;
mod language;
mod oversight;
mod page;
mod principal;
mod purpose;
mod session;
pub mod text;
mod token;
mod transfer;
mod upload;

pub use case_state::{CaseState, UnknownCaseState};
pub use child::{CaseRecord, CaseRecordPatch, Child, Origin, Sex, UnknownSex};
pub use delivery::{AnswerOutcome, InboxItem, InboxState, OutboxItem, OutboxKind};
pub use department::{DepartmentCard, Directory, KeyStatement, PreviousKey};
pub use doc_kind::{DocKind, UnknownDocKind};
pub use document::{Document, MediaType};
pub use error_class::ErrorClass;
pub use grant::{parse_until, Grant};
pub use ids::{
    ChildId, DocumentId, GrantId, InvalidId, SessionId, TokenId, TransferId, UploadId, UserId,
};
pub use language::{Language, UnknownLanguage};
pub use oversight::{reads_papers, OversightEvent, OversightKind};
pub use page::{fold_name, Page, PageError, PageRequest, DEFAULT_LIMIT, MAX_LIMIT};
pub use principal::{
    valid_district, valid_place_id, InvalidScope, Principal, Role, Scope, UnknownRole, User,
};
pub use purpose::{Purpose, UnknownPurpose};
pub use session::{form_token, same_origin, session_cookie_name, SessionInfo};
pub use token::TokenInfo;
pub use transfer::{Transfer, TransferEvent, TransferState, TransferStep, TransitionError};
pub use upload::{NewUpload, Upload};
