//! Errors as `application/problem+json` (RFC 9457). Each has a stable
//! `type` (`urn:handover:problem:…`) that scripts can match on. The detail
//! is the vault's message, which names ids and limits, never a name or
//! content; internal failures say only that something failed.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::bundle::BundleError;
use crate::vault::intake::IntakeError;
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
        }
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
            | VaultError::UnknownInboxItem(_) => (S::NOT_FOUND, "not-found", "Not found"),
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
            VaultError::Conflict(_) => {
                (S::CONFLICT, "conflict", "Not possible in the current state")
            }
            VaultError::Busy(_) => (S::SERVICE_UNAVAILABLE, "busy", "The node is busy"),
            VaultError::Intake(IntakeError::TooLarge { .. }) => {
                (S::PAYLOAD_TOO_LARGE, "too-large", "Too large")
            }
            VaultError::Bundle(BundleError::TooLarge(_)) => {
                (S::PAYLOAD_TOO_LARGE, "too-large", "Too large")
            }
            VaultError::BundleDocument {
                refusal: IntakeError::TooLarge { .. } | IntakeError::ImageTooLarge { .. },
                ..
            } => (S::PAYLOAD_TOO_LARGE, "too-large", "Too large"),
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
            VaultError::Bundle(b) if b.class() == ErrorClass::Internal => {
                (S::INTERNAL_SERVER_ERROR, "internal", "Internal error")
            }
            VaultError::Bundle(_) => (S::UNPROCESSABLE_ENTITY, "bundle-refused", "Bundle refused"),
            VaultError::Invalid(_) | VaultError::Keys(_) | VaultError::Config(_) => {
                (S::UNPROCESSABLE_ENTITY, "invalid", "Invalid request")
            }
            VaultError::Integrity(_) => (
                S::INTERNAL_SERVER_ERROR,
                "integrity-failure",
                "Stored data failed verification",
            ),
            VaultError::NotANode(_)
            | VaultError::AlreadyInitialised(_)
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
            e.to_string()
        };
        ApiError::new(status, slug, title, detail)
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
        // The body text explains which field; it never echoes values.
        ApiError::new(
            e.status(),
            "invalid-json",
            "Invalid JSON body",
            e.body_text(),
        )
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request(e.body_text())
    }
}
