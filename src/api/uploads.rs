//! Resumable uploads, tus 1.0.0 (<https://tus.io/protocols/resumable-upload>)
//! at `/api/v1/uploads`, with the extensions creation,
//! creation-with-upload, termination and expiration. The handlers speak
//! the protocol (headers in, headers out); what is stored, when it is
//! durable and what intake accepts are the vault's (`vault/uploads.rs`).
//!
//! Callers are a bearer token, or a page's session cookie: then a request
//! that changes anything must come from our own origin and carry the
//! session's form token in `X-Handover-Form-Token` (the pages' CSRF rule).
//!
//! Hand-written: no Rust tus server crate is mature enough to embed.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64, Encoding};
use futures::TryStreamExt;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::auth::Caller;
use super::problem::ApiError;
use super::{parse_id, AppState};
use crate::domain::{
    form_token, same_origin, session_cookie_name, ChildId, DocKind, NewUpload, Principal, Upload,
    UploadId,
};
use crate::vault::VaultError;

/// The one version spoken.
pub const TUS_VERSION: &str = "1.0.0";
/// The extensions implemented.
pub const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration";
/// The media type of a PATCH body (and of a creation-with-upload body).
const OFFSET_STREAM: &str = "application/offset+octet-stream";
/// The header that carries a page session's form token.
pub const FORM_TOKEN_HEADER: &str = "x-handover-form-token";
/// The header that names the document a completed upload became.
pub const DOCUMENT_HEADER: &str = "handover-document";
/// On the answer that completed an upload: `true` if intake removed
/// metadata (location and camera data, a PDF's information) from it.
pub const METADATA_REMOVED_HEADER: &str = "handover-metadata-removed";

const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");

/// A tus answer: every one carries `Tus-Resumable`; a refusal is the
/// API's problem+json with it.
pub struct Tus(Box<Response>);

impl From<Response> for Tus {
    fn from(r: Response) -> Self {
        Tus(Box::new(r))
    }
}

impl IntoResponse for Tus {
    fn into_response(self) -> Response {
        let mut r = *self.0;
        r.headers_mut()
            .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
        r
    }
}

pub type TusResult = Result<Tus, Tus>;

fn refused(e: impl Into<ApiError>) -> Tus {
    Tus::from(e.into().into_response())
}

/// Who is uploading: a bearer token, or a page session that passed the
/// pages' CSRF rule for anything but `HEAD`.
pub struct Uploader(pub Principal);

impl FromRequestParts<AppState> for Uploader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let reject = |e: ApiError| Tus::from(e.into_response()).into_response();
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return Caller::from_request_parts(parts, state)
                .await
                .map(|c| Uploader(c.0))
                .map_err(reject);
        }
        let secret = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == session_cookie_name(state.tls))
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| reject(ApiError::unauthenticated()))?;
        if parts.method != Method::HEAD && parts.method != Method::GET {
            let text = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
            let own = same_origin(
                parts
                    .headers
                    .get("sec-fetch-site")
                    .map(HeaderValue::as_bytes),
                text(header::ORIGIN),
                text(header::HOST),
                state.tls,
                state.public_origin.as_deref(),
            );
            let token = text(HeaderName::from_static(FORM_TOKEN_HEADER)).unwrap_or("");
            let expected = form_token(&secret);
            let matches = expected.len() == token.len()
                && expected
                    .bytes()
                    .zip(token.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0;
            if !own || !matches {
                return Err(reject(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "cross-site-request",
                    "Not from this node's pages",
                    "a request with a page session must come from this node's own pages and carry their form token",
                )));
            }
        }
        match state.run(move |v| v.resume_session(&secret)).await {
            Ok((who, _)) => Ok(Uploader(who)),
            Err(VaultError::Unauthenticated) => Err(reject(ApiError::unauthenticated())),
            Err(e) => Err(reject(e.into())),
        }
    }
}

/// Refuses a request for another protocol version (412), and one without
/// `Tus-Resumable`.
fn check_version(headers: &HeaderMap) -> Result<(), Tus> {
    match headers.get(TUS_RESUMABLE).map(HeaderValue::as_bytes) {
        Some(v) if v == TUS_VERSION.as_bytes() => Ok(()),
        _ => {
            let mut r = ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "tus-version",
                "Unsupported tus version",
                format!(
                    "this server speaks tus {TUS_VERSION}: send `Tus-Resumable: {TUS_VERSION}`"
                ),
            )
            .into_response();
            r.headers_mut()
                .insert("tus-version", HeaderValue::from_static(TUS_VERSION));
            Err(Tus::from(r))
        }
    }
}

/// `OPTIONS /api/v1/uploads` (and on an upload): what this server speaks.
pub async fn options(State(state): State<AppState>) -> Tus {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    h.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    h.insert(
        "tus-max-size",
        HeaderValue::from(state.vault.max_document_bytes()),
    );
    Tus::from(r)
}

/// `POST /api/v1/uploads`: starts an upload (`Upload-Length`,
/// `Upload-Metadata` with `child`, `kind` and optionally `title`), and
/// takes its first bytes if the body has them.
pub async fn create(
    State(state): State<AppState>,
    Uploader(actor): Uploader,
    headers: HeaderMap,
    body: Body,
) -> TusResult {
    check_version(&headers)?;
    if headers.contains_key("upload-defer-length") {
        return Err(refused(ApiError::bad_request(
            "Upload-Defer-Length is not supported: send Upload-Length",
        )));
    }
    let length = number(&headers, &UPLOAD_LENGTH)?
        .ok_or_else(|| refused(ApiError::bad_request("Upload-Length is required")))?;
    let meta = metadata(&headers)?;
    let child = meta
        .iter()
        .find(|(k, _)| k == "child")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            refused(ApiError::bad_request(
                "Upload-Metadata must name the `child`",
            ))
        })?;
    let child: ChildId = parse_id(&state, &actor, &child, "child")
        .await
        .map_err(refused)?;
    let kind: DocKind = meta
        .iter()
        .find(|(k, _)| k == "kind")
        .ok_or_else(|| {
            refused(ApiError::bad_request(
                "Upload-Metadata must name the `kind`",
            ))
        })?
        .1
        .parse()
        .map_err(|e: crate::domain::UnknownDocKind| {
            refused(ApiError::bad_request(e.to_string()))
        })?;
    // Any other key (a file name above all) is ignored, never stored.
    let title = meta.into_iter().find(|(k, _)| k == "title").map(|(_, v)| v);
    let new = NewUpload {
        child_id: child,
        kind,
        title,
        length,
    };
    let who = actor.clone();
    let upload = state
        .run(move |v| v.create_upload(&who, new))
        .await
        .map_err(refused)?;
    let location = format!("/api/v1/uploads/{}", upload.id);
    let with_bytes = is_offset_stream(&headers);
    let (upload, document) = if with_bytes {
        match append(&state, &actor, &upload, 0, &headers, body).await {
            Ok(done) => done,
            // The upload exists: say where, even if its first bytes failed.
            Err(Appending::Stopped(upload)) => (upload, None),
            Err(Appending::Refused(e)) => return Err(e),
        }
    } else {
        (upload, None)
    };
    let mut r = StatusCode::CREATED.into_response();
    let h = r.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("an id is ASCII"),
    );
    describe(h, &upload, upload.document.as_ref());
    completed(h, document.as_ref());
    Ok(Tus::from(r))
}

/// `HEAD /api/v1/uploads/{id}`: the durable offset.
pub async fn head(
    State(state): State<AppState>,
    Uploader(actor): Uploader,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> TusResult {
    check_version(&headers)?;
    let id: UploadId = upload_id(&id)?;
    let upload = state
        .vault
        .upload_status(&actor, id)
        .await
        .map_err(|e| match e {
            // A HEAD answer has no body.
            e @ VaultError::UnknownUpload(_) => {
                Tus::from(ApiError::from(e).status().into_response())
            }
            e => refused(e),
        })?;
    let mut r = StatusCode::OK.into_response();
    let h = r.headers_mut();
    h.insert(UPLOAD_LENGTH, HeaderValue::from(upload.length));
    describe(h, &upload, upload.document.as_ref());
    Ok(Tus::from(r))
}

/// `PATCH /api/v1/uploads/{id}`: bytes at `Upload-Offset`.
pub async fn patch(
    State(state): State<AppState>,
    Uploader(actor): Uploader,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> TusResult {
    check_version(&headers)?;
    let id: UploadId = upload_id(&id)?;
    if !is_offset_stream(&headers) {
        return Err(refused(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("a PATCH body is `Content-Type: {OFFSET_STREAM}`"),
        )));
    }
    let offset = number(&headers, &UPLOAD_OFFSET)?
        .ok_or_else(|| refused(ApiError::bad_request("Upload-Offset is required")))?;
    let who = actor.clone();
    let upload = state.vault.upload_status(&who, id).await.map_err(refused)?;
    let (upload, document) = match append(&state, &actor, &upload, offset, &headers, body).await {
        Ok(done) => done,
        Err(Appending::Stopped(upload)) => (upload, None),
        Err(Appending::Refused(e)) => return Err(e),
    };
    let mut r = StatusCode::NO_CONTENT.into_response();
    describe(r.headers_mut(), &upload, upload.document.as_ref());
    completed(r.headers_mut(), document.as_ref());
    Ok(Tus::from(r))
}

/// `DELETE /api/v1/uploads/{id}`: ends the upload and removes what it staged.
pub async fn terminate(
    State(state): State<AppState>,
    Uploader(actor): Uploader,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> TusResult {
    check_version(&headers)?;
    let id: UploadId = upload_id(&id)?;
    state
        .run(move |v| v.terminate_upload(&actor, id))
        .await
        .map_err(refused)?;
    Ok(Tus::from(StatusCode::NO_CONTENT.into_response()))
}

/// `POST /api/v1/uploads/{id}` with `X-HTTP-Method-Override` (for
/// clients behind proxies that pass only GET and POST).
pub async fn overridden(
    state: State<AppState>,
    uploader: Uploader,
    id: Path<String>,
    headers: HeaderMap,
    body: Body,
) -> TusResult {
    let method = headers
        .get("x-http-method-override")
        .and_then(|v| v.to_str().ok())
        .map(|m| m.trim().to_ascii_uppercase());
    match method.as_deref() {
        Some("PATCH") => patch(state, uploader, id, headers, body).await,
        Some("DELETE") => terminate(state, uploader, id, headers).await,
        Some("HEAD") => head(state, uploader, id, headers).await,
        _ => Err(refused(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "POST on an upload needs X-HTTP-Method-Override: PATCH, DELETE or HEAD",
        ))),
    }
}

/// How an append ended without a document.
enum Appending {
    /// The source stopped early (a dropped connection); what arrived is kept.
    Stopped(Upload),
    /// Refused: the answer to give.
    Refused(Tus),
}

async fn append(
    state: &AppState,
    actor: &Principal,
    upload: &Upload,
    offset: u64,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Upload, Option<(crate::domain::Document, bool)>), Appending> {
    if let Some(n) = number(headers, &header::CONTENT_LENGTH).map_err(Appending::Refused)? {
        if offset.saturating_add(n) > upload.length {
            return Err(Appending::Refused(refused(ApiError::bad_request(format!(
                "the body would end past Upload-Length ({} bytes)",
                upload.length
            )))));
        }
    }
    let _turn = state.upload_permit().await;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let source = SyncIoBridge::new(StreamReader::new(stream));
    let appended = state
        .vault
        .append_upload(actor, upload.id, offset, Box::new(source))
        .await
        .map_err(|e| Appending::Refused(refused(e)))?;
    if let Some(doc) = &appended.document {
        metrics::counter!("handover_documents_stored_total").increment(1);
        metrics::counter!("handover_document_bytes_stored_total").increment(doc.size);
    }
    match appended.interrupted {
        Some(e) if appended.document.is_none() => {
            tracing::info!(upload = %upload.id, error = %e, "an append stopped early; its bytes are kept");
            Err(Appending::Stopped(appended.upload))
        }
        _ => Ok((
            appended.upload,
            appended.document.map(|d| (d, appended.metadata_removed)),
        )),
    }
}

/// `Upload-Offset`, `Upload-Expires`, `Cache-Control: no-store`, and the
/// document once there is one.
fn describe(h: &mut HeaderMap, upload: &Upload, document: Option<&crate::domain::DocumentId>) {
    h.insert(UPLOAD_OFFSET, HeaderValue::from(upload.offset));
    h.insert(
        UPLOAD_EXPIRES,
        HeaderValue::from_str(
            &upload
                .expires_at
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        )
        .expect("an HTTP date is ASCII"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(doc) = document {
        h.insert(
            DOCUMENT_HEADER,
            HeaderValue::from_str(&doc.to_string()).expect("an id is ASCII"),
        );
    }
}

/// On the answer that completed the upload: the document and whether
/// intake removed metadata from it.
fn completed(h: &mut HeaderMap, done: Option<&(crate::domain::Document, bool)>) {
    if let Some((doc, removed)) = done {
        h.insert(
            DOCUMENT_HEADER,
            HeaderValue::from_str(&doc.id.to_string()).expect("an id is ASCII"),
        );
        h.insert(
            METADATA_REMOVED_HEADER,
            HeaderValue::from_static(if *removed { "true" } else { "false" }),
        );
    }
}

fn is_offset_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_STREAM))
}

/// A header that must be a non-negative integer, if present.
fn number(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, Tus> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| refused(ApiError::bad_request(format!("{name} is not a number")))),
    }
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs (a key alone
/// has an empty value). Values are UTF-8.
fn metadata(headers: &HeaderMap) -> Result<Vec<(String, String)>, Tus> {
    let Some(raw) = headers.get("upload-metadata") else {
        return Ok(Vec::new());
    };
    let bad = |why: &str| refused(ApiError::bad_request(format!("Upload-Metadata {why}")));
    let raw = raw.to_str().map_err(|_| bad("is not ASCII"))?;
    let mut pairs = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut parts = pair.split(' ').filter(|p| !p.is_empty());
        let key = parts.next().ok_or_else(|| bad("has an empty pair"))?;
        let value = match parts.next() {
            Some(v) => Base64::decode_vec(v).map_err(|_| bad("has a value that is not base64"))?,
            None => Vec::new(),
        };
        if parts.next().is_some() {
            return Err(bad("has a pair with more than a key and a value"));
        }
        let value = String::from_utf8(value).map_err(|_| bad("has a value that is not UTF-8"))?;
        pairs.push((key.to_string(), value));
    }
    Ok(pairs)
}

/// An upload id from the path; a malformed one reads like an unknown one.
fn upload_id(s: &str) -> Result<UploadId, Tus> {
    s.parse().map_err(|_| {
        refused(VaultError::UnknownUpload(crate::domain::text::outside_id(
            s,
        )))
    })
}
