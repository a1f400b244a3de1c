//! Adding scans and viewing papers. The upload form takes one kind (and
//! a title for `other`) and one or more files from the file picker or the
//! phone's camera; each file goes through the vault's intake exactly like
//! an API upload, and the page says in plain words what became of it.
//! File names are never kept (on phones they often hold the child's
//! name). A document opens inline when the browser can show it safely
//! (PDF, JPEG, PNG), under a sandboxing CSP, and downloads otherwise.

use std::io::{self, Read};

use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::page::{explain, Chrome, Page, PageResult};
use super::session::Visitor;
use super::WebState;
use crate::domain::{ChildId, DocKind, Document, DocumentId, MediaType};
use crate::vault::intake::IntakeError;
use crate::vault::{ChildView, NewDocument, Purpose};

/// The message id of an upload refused by intake.
pub fn refusal(e: &IntakeError) -> &'static str {
    match e {
        IntakeError::Empty => "upload-empty",
        IntakeError::Unsupported(_) | IntakeError::MediaMismatch { .. } => "upload-unsupported",
        IntakeError::TextNotAllowed | IntakeError::NotText | IntakeError::Markup => {
            "upload-text-not-allowed"
        }
        IntakeError::TooLarge { .. } | IntakeError::ImageTooLarge { .. } => "upload-too-large",
        IntakeError::Truncated(..) | IntakeError::SizeMismatch { .. } => "upload-truncated",
        IntakeError::Malformed(..) => "upload-malformed",
        IntakeError::CannotClean {
            media: MediaType::Heic,
            ..
        } => "upload-heic",
        IntakeError::CannotClean { .. } => "upload-cannot-clean",
        IntakeError::Metadata(_) => "upload-cannot-clean",
    }
}

#[derive(askama::Template)]
#[template(path = "upload.html")]
struct UploadPage {
    c: Chrome,
    view: ChildView,
    kinds: Vec<DocKind>,
    chosen: Option<DocKind>,
    action: String,
}

#[derive(Deserialize)]
pub struct UploadQuery {
    kind: Option<String>,
}

/// `GET /children/{id}/scans`: the upload form (`?kind=` preselects a kind).
pub async fn upload_form(
    State(state): State<WebState>,
    v: Visitor,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
) -> PageResult {
    let id: ChildId = v.id(&id)?;
    let view = v
        .ask(&state, move |vault, who| {
            vault.show_child(who, id, Purpose::Restoration)
        })
        .await?;
    let action = format!("/children/{id}/scans?csrf={}", v.csrf);
    Ok(Page(UploadPage {
        c: v.chrome().titled("upload-title"),
        view,
        kinds: DocKind::ALL.to_vec(),
        chosen: q.kind.and_then(|k| k.parse().ok()),
        action,
    })
    .into_response())
}

/// What became of one uploaded file.
pub struct Outcome {
    /// 1, 2…: the order of the files as sent.
    pub number: usize,
    pub stored: Option<Document>,
    /// Message id: what was done to the file, or why it was refused.
    pub message: &'static str,
}

#[derive(askama::Template)]
#[template(path = "uploaded.html")]
struct UploadedPage {
    c: Chrome,
    child: ChildId,
    outcomes: Vec<Outcome>,
}

/// A `Read` over chunks that arrive on a channel (a multipart field, fed
/// by the request task while the vault reads on its own thread).
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.chunk = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

/// `POST /children/{id}/scans` (multipart: `kind`, `title`, then one or
/// more `file`): stores each file, and shows what became of each.
pub async fn upload(
    State(state): State<WebState>,
    v: Visitor,
    Path(id): Path<String>,
    mut form: Multipart,
) -> PageResult {
    let child: ChildId = v.id(&id)?;
    let mut kind: Option<DocKind> = None;
    let mut title: Option<String> = None;
    let mut outcomes = Vec::new();
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => {
                outcomes.push(Outcome {
                    number: outcomes.len() + 1,
                    stored: None,
                    message: "upload-truncated",
                });
                break;
            }
        };
        match field.name() {
            Some("kind") => kind = field.text().await.ok().and_then(|k| k.parse().ok()),
            Some("title") => {
                title = field
                    .text()
                    .await
                    .ok()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
            }
            Some("file") => {
                // A file input left empty sends one part with no name and no bytes.
                if field.file_name().is_some_and(str::is_empty) {
                    continue;
                }
                let number = outcomes.len() + 1;
                let Some(kind) = kind else {
                    return Err(v.bad_form("upload-kind-required"));
                };
                let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
                let new = NewDocument {
                    kind,
                    title: title.clone(),
                    file_name: None,
                    declared_size: None,
                };
                let vault = state.vault.clone();
                let who = v.who.clone();
                let source = Box::new(ChannelReader {
                    rx,
                    chunk: Bytes::new(),
                });
                let stored =
                    tokio::spawn(
                        async move { vault.store_document(&who, child, new, source).await },
                    );
                // Feed the file's bytes until it ends or the vault stops reading.
                loop {
                    match field.chunk().await {
                        Ok(Some(b)) => {
                            if tx.send(Ok(b)).await.is_err() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            let _ = tx
                                .send(Err(io::Error::new(
                                    io::ErrorKind::UnexpectedEof,
                                    "the upload was cut off",
                                )))
                                .await;
                            break;
                        }
                    }
                }
                drop(tx);
                let result = match stored.await {
                    Ok(r) => r,
                    Err(e) => Err(e.into()),
                };
                outcomes.push(match result {
                    Ok((doc, removed)) => Outcome {
                        number,
                        message: stored_message(doc.media_type, removed),
                        stored: Some(doc),
                    },
                    Err(e) => {
                        let (status, message, _) = explain(v.tr, &e);
                        if status.is_server_error() || message == "error-not-found" {
                            return Err(v.failure(e));
                        }
                        Outcome {
                            number,
                            stored: None,
                            message,
                        }
                    }
                });
            }
            _ => {}
        }
    }
    if outcomes.is_empty() {
        return Err(v.bad_form("upload-no-file"));
    }
    let refused = outcomes.iter().any(|o| o.stored.is_none());
    Ok(Page(UploadedPage {
        c: v.chrome().titled("uploaded-title"),
        child,
        outcomes,
    })
    .with_status(if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }))
}

/// What intake did to a stored file, in plain words.
fn stored_message(media: MediaType, removed: bool) -> &'static str {
    match (media, removed) {
        (MediaType::Jpeg | MediaType::Png | MediaType::Webp, true) => "upload-stored-photo",
        (MediaType::Pdf, true) => "upload-stored-pdf",
        (_, false) => "upload-stored-clean",
        _ => "upload-stored",
    }
}

#[derive(askama::Template)]
#[template(path = "document.html")]
struct DocumentPage {
    c: Chrome,
    doc: Document,
    inline_image: bool,
    inline: bool,
}

fn shows_inline(m: MediaType) -> bool {
    matches!(m, MediaType::Pdf | MediaType::Jpeg | MediaType::Png)
}

/// `GET /documents/{id}`: what the paper is, and the paper itself.
pub async fn show(State(state): State<WebState>, v: Visitor, Path(id): Path<String>) -> PageResult {
    let id: DocumentId = v.id(&id)?;
    let doc = v
        .ask(&state, move |vault, who| vault.document(who, id))
        .await?;
    Ok(Page(DocumentPage {
        c: v.chrome().titled("document-title"),
        inline_image: matches!(doc.media_type, MediaType::Jpeg | MediaType::Png),
        inline: shows_inline(doc.media_type),
        doc,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct ContentQuery {
    download: Option<String>,
}

/// `GET /documents/{id}/content`: the bytes, decrypted as they are sent
/// (cut off if the digest fails at the end). Inline for PDF, JPEG and PNG
/// unless `?download=1`; a download otherwise. The file name is the
/// document's id, never its title. The CSP sandboxes whatever the file is.
pub async fn content(
    State(state): State<WebState>,
    v: Visitor,
    Path(id): Path<String>,
    Query(q): Query<ContentQuery>,
) -> PageResult {
    let id: DocumentId = v.id(&id)?;
    let (doc, (), rx) = state
        .vault
        .open_document_stream(v.who.clone(), id, |doc| ((), 0, doc.size))
        .await
        .map_err(|e| v.failure(e))?;
    let inline = q.download.is_none() && shows_inline(doc.media_type);
    let disposition = format!(
        "{}; filename=\"{}.{}\"",
        if inline { "inline" } else { "attachment" },
        doc.id,
        doc.media_type.extension()
    );
    let media = match doc.media_type {
        MediaType::Text => "text/plain; charset=utf-8",
        other => other.as_str(),
    };
    // Images and text are sandboxed outright. A PDF is drawn by the
    // browser's own viewer, which a sandbox would stop; it may load
    // nothing and run nothing of ours.
    let csp = if doc.media_type == MediaType::Pdf {
        "default-src 'none'; object-src 'self'; plugin-types application/pdf; frame-ancestors 'self'"
    } else {
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
    };
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, media)
        .header(header::CONTENT_LENGTH, doc.size)
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(header::CONTENT_SECURITY_POLICY, csp)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}
