//! Documents: metadata, and the bytes streamed out with `Content-Length`,
//! the SHA-256 as `ETag`, and single `Range` requests. The plaintext is
//! decrypted while it is sent; if the digest does not hold at the end, the
//! body is cut off, so a client never receives a complete wrong file.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio_stream::wrappers::ReceiverStream;

use super::auth::Caller;
use super::problem::{ApiError, ApiResult};
use super::{parse_id, AppState, Problem};
use crate::domain::{Document, DocumentId};

/// A document's metadata.
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path, description = "document id")),
    responses((status = 200, body = Document), (status = 404, body = Problem)))]
pub async fn metadata(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Document>> {
    let id: DocumentId = parse_id(&state, &actor, &id, "document").await?;
    Ok(Json(state.run(move |v| v.document(&actor, id)).await?))
}

/// The bytes of a document, streamed. Honours one `Range: bytes=…`.
#[utoipa::path(get, path = "/api/v1/documents/{id}/content", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path, description = "document id"),
           ("Range" = Option<String>, Header, description = "one byte range, e.g. bytes=0-1023")),
    responses((status = 200, description = "the document", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 206, description = "the requested range", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = Problem), (status = 416, body = Problem)))]
pub async fn content(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id: DocumentId = parse_id(&state, &actor, &id, "document").await?;
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(RangeSpec::parse).ok_or_else(|| {
            ApiError::bad_request(
                "only one byte range `bytes=A-B`, `bytes=A-` or `bytes=-N` is supported",
            )
        })?),
    };
    let (doc, window, rx) = state
        .vault
        .open_document_stream(actor, id, move |doc| {
            let window = range.map_or(Window::Whole, |r| r.resolve(doc.size));
            let (start, end) = match window {
                Window::Unsatisfiable => (0, 0),
                Window::Part(start, end) => (start, end + 1),
                Window::Whole => (0, doc.size),
            };
            (window, start, end)
        })
        .await?;
    let etag = HeaderValue::from_str(&format!("\"{}\"", doc.sha256))
        .map_err(|_| ApiError::bad_request("bad digest"))?;
    let mut builder = Response::builder()
        .header(
            header::CONTENT_TYPE,
            match doc.media_type {
                // Text is always served with its charset (and nosniff).
                crate::domain::MediaType::Text => "text/plain; charset=utf-8",
                other => other.as_str(),
            },
        )
        .header(header::ETAG, etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "no-store")
        .header(
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}.{}\"",
                doc.id,
                doc.media_type.extension()
            ),
        );
    let length = match window {
        Window::Whole => doc.size,
        Window::Part(start, end) => {
            builder = builder.status(StatusCode::PARTIAL_CONTENT).header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{}", doc.size),
            );
            end - start + 1
        }
        Window::Unsatisfiable => {
            let mut refused = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range-not-satisfiable",
                "Range not satisfiable",
                format!("the document has {} bytes", doc.size),
            )
            .into_response();
            refused.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{}", doc.size)).expect("ascii"),
            );
            return Ok(refused);
        }
    };
    metrics::counter!("handover_documents_read_total").increment(1);
    builder
        .header(header::CONTENT_LENGTH, length)
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .map_err(|_| ApiError::bad_request("cannot build the response"))
}

/// One byte range of a `Range` header. The syntax is parsed by the
/// `http-range-header` crate (tower-http's choice); only a single range is
/// served.
#[derive(Clone, Copy)]
struct RangeSpec(http_range_header::SyntacticallyCorrectRange);

/// What part of a document a response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Window {
    /// The whole document (no `Range`).
    Whole,
    /// The inclusive byte range `start..=end`.
    Part(u64, u64),
    /// A `Range` the document cannot satisfy.
    Unsatisfiable,
}

impl RangeSpec {
    fn parse(s: &str) -> Option<RangeSpec> {
        let parsed = http_range_header::parse_range_header(s.trim()).ok()?;
        use http_range_header::{EndPosition as End, StartPosition as Start};
        match parsed.ranges.as_slice() {
            // `bytes=9-0` is malformed, not merely unsatisfiable.
            [one] => match (one.start, one.end) {
                (Start::Index(a), End::Index(b)) if b < a => None,
                _ => Some(RangeSpec(*one)),
            },
            _ => None,
        }
    }

    /// The window in a document of `size` bytes. A suffix longer than the
    /// document is the whole document (RFC 9110, 14.1.2).
    fn resolve(self, size: u64) -> Window {
        use http_range_header::{EndPosition as End, StartPosition as Start};
        let start = match self.0.start {
            Start::Index(i) => i,
            Start::FromLast(0) => return Window::Unsatisfiable,
            Start::FromLast(n) => size.saturating_sub(n),
        };
        if start >= size {
            return Window::Unsatisfiable;
        }
        let end = match self.0.end {
            End::Index(i) => i.min(size - 1),
            End::LastByte => size - 1,
        };
        if end < start {
            return Window::Unsatisfiable;
        }
        Window::Part(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::{RangeSpec, Window};

    #[test]
    fn ranges_resolve_against_the_size() {
        let r = |s| RangeSpec::parse(s);
        assert_eq!(r("bytes=0-9").unwrap().resolve(100), Window::Part(0, 9));
        assert_eq!(r("bytes=90-").unwrap().resolve(100), Window::Part(90, 99));
        assert_eq!(
            r("bytes=90-500").unwrap().resolve(100),
            Window::Part(90, 99)
        );
        assert_eq!(r("bytes=-10").unwrap().resolve(100), Window::Part(90, 99));
        assert_eq!(r("bytes=-500").unwrap().resolve(100), Window::Part(0, 99));
        assert_eq!(r("bytes=100-").unwrap().resolve(100), Window::Unsatisfiable);
        assert!(r("bytes=-0").is_none(), "a zero-length suffix is malformed");
        assert!(r("bytes=9-0").is_none());
        assert!(r("bytes=0-1,5-6").is_none());
        assert!(r("items=0-1").is_none());
        assert!(r("bytes=a-b").is_none());
    }
}
