//! Errors as `application/problem+json` (RFC 9457). Each has a stable
//! `type` (`urn:handover:problem:…`) that scripts can match on. The detail
//! is the vault's message, which names ids and limits, never a name or
//! content; internal failures say only that something failed.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::vault::{ErrorClass, VaultError};

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable URI naming the kind of problem, e.g. `urn:handover:problem:not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this case (ids and limits, never personal facts).
    pub detail: String,
}

/// An error a handler returns.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            slug,
            title,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// Adds a `Retry-After` header of `secs` seconds.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Bad input found by the API layer itself (a malformed id, header or query).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            detail,
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            "send `Authorization: Bearer TOKEN` (from POST /api/v1/session or `handover token create`)",
        )
    }

    pub fn too_many_attempts(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-attempts",
            "Too many failed attempts",
            detail,
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such route",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        use StatusCode as S;
        let (status, slug, title) = match &e {
            VaultError::UnknownChild(_)
            | VaultError::UnknownDocument(_)
            | VaultError::UnknownTransfer(_)
            | VaultError::UnknownInboxItem(_)
            | VaultError::UnknownUpload(_) => (S::NOT_FOUND, "not-found", "Not found"),
            VaultError::UploadOffset { .. } => (
                S::CONFLICT,
                "upload-offset",
                "The upload stands at another offset",
            ),
            VaultError::UploadComplete(_) => {
                (S::CONFLICT, "upload-complete", "The upload is complete")
            }
            VaultError::UploadBusy => (
                S::LOCKED,
                "upload-busy",
                "Another append of this upload is running",
            ),
            VaultError::UploadLimit(crate::vault::UploadLimit::OpenUploads { .. }) => (
                S::TOO_MANY_REQUESTS,
                "too-many-uploads",
                "Too many unfinished uploads",
            ),
            VaultError::UploadLimit(crate::vault::UploadLimit::StagedBytes { .. }) => (
                S::PAYLOAD_TOO_LARGE,
                "too-many-staged-bytes",
                "Too many bytes in unfinished uploads",
            ),
            VaultError::UnknownDepartment(_) => (
                S::UNPROCESSABLE_ENTITY,
                "unknown-department",
                "Unknown department",
            ),
            VaultError::Denied(_) => (S::FORBIDDEN, "forbidden", "Not permitted"),
            VaultError::Unauthenticated => (
                S::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            VaultError::Throttled { .. } => (
                S::TOO_MANY_REQUESTS,
                "too-many-attempts",
                "Too many failed attempts",
            ),
            VaultError::PasswordChangeRequired => (
                S::FORBIDDEN,
                "password-change-required",
                "The password must be changed",
            ),
            VaultError::WeakPassword(_) => {
                (S::UNPROCESSABLE_ENTITY, "weak-password", "Password refused")
            }
            VaultError::SeparationOfDuties(_) => (
                S::FORBIDDEN,
                "separation-of-duties",
                "Not permitted: separation of duties",
            ),
            VaultError::Conflict(_) => {
                (S::CONFLICT, "conflict", "Not possible in the current state")
            }
            // The API starts no blob migration; the command line does.
            VaultError::Busy(_) | VaultError::SwitchNeedsNode { .. } => {
                (S::SERVICE_UNAVAILABLE, "busy", "The node is busy")
            }
            // Backups and restores are the command line's.
            VaultError::NotABackup(_)
            | VaultError::RestoreTargetNotEmpty(_)
            | VaultError::RestoreKeys(_) => {
                (S::CONFLICT, "conflict", "Not possible in the current state")
            }
            VaultError::SameBlobStore => {
                (S::CONFLICT, "conflict", "Not possible in the current state")
            }
            VaultError::PlacementByMoveOnly => (
                S::UNPROCESSABLE_ENTITY,
                "placement-by-move-only",
                "The placement changes only by a move",
            ),
            VaultError::UnknownDistrict => (
                S::UNPROCESSABLE_ENTITY,
                "unknown-district",
                "Unknown district",
            ),
            VaultError::InboxFull(_) => {
                (S::INSUFFICIENT_STORAGE, "inbox-full", "The inbox is full")
            }
            e if e.is_over_size_limit() => (S::PAYLOAD_TOO_LARGE, "too-large", "Too large"),
            VaultError::BundleDocument { .. } => {
                (S::UNPROCESSABLE_ENTITY, "bundle-refused", "Bundle refused")
            }
            VaultError::Intake(_) => (
                S::UNPROCESSABLE_ENTITY,
                "document-refused",
                "Document refused",
            ),
            VaultError::Source(_) => (
                S::BAD_REQUEST,
                "upload-failed",
                "The upload did not complete",
            ),
            VaultError::Bundle(_) if e.class() == ErrorClass::Internal => {
                (S::INTERNAL_SERVER_ERROR, "internal", "Internal error")
            }
            VaultError::Bundle(_) => (S::UNPROCESSABLE_ENTITY, "bundle-refused", "Bundle refused"),
            VaultError::UnknownUser(_) => (S::UNPROCESSABLE_ENTITY, "unknown-user", "Unknown user"),
            VaultError::UnknownToken(_) => {
                (S::UNPROCESSABLE_ENTITY, "unknown-token", "Unknown token")
            }
            VaultError::UnknownGrant(_) => {
                (S::UNPROCESSABLE_ENTITY, "unknown-grant", "Unknown grant")
            }
            VaultError::UserExists(_) => (
                S::UNPROCESSABLE_ENTITY,
                "user-exists",
                "The user already exists",
            ),
            VaultError::InvalidUserName => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-user-name",
                "Invalid user name",
            ),
            VaultError::InvalidField { .. } => {
                (S::UNPROCESSABLE_ENTITY, "invalid-field", "Invalid field")
            }
            VaultError::NothingToChange => (
                S::UNPROCESSABLE_ENTITY,
                "nothing-to-change",
                "Nothing to change",
            ),
            VaultError::MoveWithoutPlacement => (
                S::UNPROCESSABLE_ENTITY,
                "move-without-placement",
                "A move names a new placement",
            ),
            VaultError::ReasonRequired(_) => (
                S::UNPROCESSABLE_ENTITY,
                "reason-required",
                "A reason is required",
            ),
            VaultError::NotASupportPerson { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "not-a-support-person",
                "Grants are for support persons",
            ),
            VaultError::GrantWithoutKinds => (
                S::UNPROCESSABLE_ENTITY,
                "grant-without-kinds",
                "A grant names document kinds",
            ),
            VaultError::GrantPeriod { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "grant-period",
                "Invalid grant period",
            ),
            VaultError::TokenLifetime { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "token-lifetime",
                "Invalid token lifetime",
            ),
            VaultError::OwnDepartment(_) => (
                S::UNPROCESSABLE_ENTITY,
                "own-department",
                "This node's own department",
            ),
            VaultError::DepartmentKeysChanged(_) => (
                S::UNPROCESSABLE_ENTITY,
                "department-keys-changed",
                "The department's keys differ",
            ),
            VaultError::InvalidCard(_) => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-card",
                "Invalid department card",
            ),
            VaultError::RevokedDepartment { .. } | VaultError::RevokedCardKey(_) => (
                S::UNPROCESSABLE_ENTITY,
                "revoked-key",
                "The department's key was revoked",
            ),
            VaultError::KeyRotated => (
                S::CONFLICT,
                "key-rotated",
                "The storage key changed meanwhile: send it again",
            ),
            VaultError::RotationBlocked(_) => (
                S::CONFLICT,
                "rotation-blocked",
                "The key rotation cannot finish yet",
            ),
            VaultError::InvalidDepartmentId(_) | VaultError::EmptyDepartmentName => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-department",
                "Invalid department id or name",
            ),
            VaultError::ChecklistIncomplete { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "checklist-incomplete",
                "The checklist is incomplete",
            ),
            VaultError::TooManyDocuments { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "too-many-documents",
                "Too many documents for one bundle",
            ),
            VaultError::StepNotManual(_) => (
                S::UNPROCESSABLE_ENTITY,
                "step-not-manual",
                "The node takes this step itself",
            ),
            VaultError::NoBundleFile { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "no-bundle-file",
                "No bundle file for this transfer",
            ),
            VaultError::MalformedBundleId => (
                S::UNPROCESSABLE_ENTITY,
                "malformed-bundle-id",
                "Malformed bundle id",
            ),
            VaultError::ForeignAnswer(_) | VaultError::UnknownSentBundle(_) => (
                S::UNPROCESSABLE_ENTITY,
                "unknown-bundle",
                "The answer is for no bundle sent from here",
            ),
            VaultError::Keys(_) => (S::UNPROCESSABLE_ENTITY, "key-refused", "Key refused"),
            VaultError::Config(_) => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-settings",
                "Invalid settings",
            ),
            VaultError::Integrity(_) | VaultError::BackupBroken { .. } => (
                S::INTERNAL_SERVER_ERROR,
                "integrity-failure",
                "Stored data failed verification",
            ),
            // Set-up refusals of the command line and `serve`; no route
            // returns them.
            VaultError::NotANode(_)
            | VaultError::AlreadyInitialised(_)
            | VaultError::HoldsRealData
            | VaultError::OutputExists(_)
            | VaultError::OutputUnwritable { .. }
            | VaultError::Store(_)
            | VaultError::Io(_)
            | VaultError::Audit(_)
            | VaultError::Policy(_) => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        };
        let detail = if status == S::INTERNAL_SERVER_ERROR && slug == "internal" {
            // Vault messages hold no personal data, but paths and library
            // errors are for the node's log, not for a client.
            tracing::error!(error = %e, "request failed");
            "the node could not complete the request; its log says why".to_string()
        } else {
            if slug == "integrity-failure" {
                tracing::error!(error = %e, "integrity failure");
            }
            match e {
                // The API's own words for what may be done instead.
                VaultError::ChecklistIncomplete { .. } => {
                    format!("{e}; a CWC member may submit with `override_reason`")
                }
                VaultError::UnknownDepartment(_) => {
                    format!("{e}; an admin adds its card with POST /api/v1/departments")
                }
                _ => e.to_string(),
            }
        };
        let retry = match e {
            VaultError::Throttled { retry_after_secs } => Some(retry_after_secs),
            VaultError::InboxFull(_) => Some(600),
            _ => None,
        };
        ApiError {
            retry_after: retry,
            ..ApiError::new(status, slug, title, detail)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("urn:handover:problem:{}", self.slug),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON request body whose rejections are problem+json too.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonBody<T>(pub T);

/// Query parameters whose rejections are problem+json too.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct QueryParams<T>(pub T);

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection as J;
        // Serde's messages quote the values they refuse: name the field
        // (a path from the schema) and never the value.
        let detail = match &e {
            J::JsonDataError(d) => field_of(&d.body_text())
                .map(|f| format!("the JSON body does not fit the schema at field `{f}`"))
                .unwrap_or_else(|| "the JSON body does not fit the schema".into()),
            J::JsonSyntaxError(_) => "the body is not well-formed JSON".into(),
            J::MissingJsonContentType(_) => {
                "send the body with `Content-Type: application/json`".into()
            }
            _ => "the JSON body could not be read".into(),
        };
        ApiError::new(e.status(), "invalid-json", "Invalid JSON body", detail)
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        let detail = field_of(&e.body_text())
            .map(|f| format!("the query parameter `{f}` is not valid"))
            .unwrap_or_else(|| "the query string is not valid".into());
        ApiError::bad_request(detail)
    }
}

/// The field path in axum's "Failed to deserialize …: PATH: MESSAGE", if
/// it is a plain path (letters, digits, `_`, `.`, `[`, `]`).
fn field_of(text: &str) -> Option<String> {
    let rest = text.split_once(": ").map(|(_, r)| r)?;
    let (path, _) = rest.split_once(": ")?;
    let plain = !path.is_empty()
        && path.len() <= 64
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'[' | b']'));
    (plain && path != ".").then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn only_the_field_is_named() {
        assert_eq!(
            field_of("Failed to deserialize the JSON body into the target type: kinds[0]: unknown variant `x`").as_deref(),
            Some("kinds[0]")
        );
        assert_eq!(
            field_of("Failed to deserialize query string: limit: invalid digit found in string")
                .as_deref(),
            Some("limit")
        );
        assert_eq!(field_of("Failed to deserialize the JSON body into the target type: missing field `name` at line 1 column 2"), None);
        assert_eq!(
            field_of("Failed to deserialize the JSON body into the target type: .: x"),
            None
        );
    }
}
