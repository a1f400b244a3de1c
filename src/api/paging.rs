//! Pages of lists in the API: the `limit`, `after` and `q` query
//! parameters, and the `Link: <...>; rel="next"` header that carries the
//! next page's cursor. The rows of a page stay a plain JSON array.

use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::problem::{ApiError, ApiResult};
use crate::domain::{Page, PageRequest};

/// Which page of a list: `limit` rows (default 50, at most 500) after the
/// row `after`, optionally only those whose name holds `q`.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Rows per page: 1 to 500, default 50.
    pub limit: Option<usize>,
    /// Where the previous page ended: the cursor in its `Link: rel="next"` header.
    pub after: Option<String>,
    /// Only names holding this text: case-insensitive, prefix or substring,
    /// any script (Latin, Devanagari, ...). Query strings are never logged.
    pub q: Option<String>,
}

impl PageQuery {
    /// The page asked for; 400 for a limit out of range or a bad search text.
    pub fn request(&self) -> ApiResult<PageRequest> {
        page_request(self.limit, self.after.clone(), self.q.as_deref())
    }
}

/// A page request from query parameters; 400 when they are out of range.
pub fn page_request(
    limit: Option<usize>,
    after: Option<String>,
    q: Option<&str>,
) -> ApiResult<PageRequest> {
    PageRequest::new(limit, after, q).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// A page as a JSON array, with `Link: <PATH?...after=CURSOR>; rel="next"`
/// when there may be more. `keep` are the list's own query parameters
/// (a filter such as `child`, the `limit` and `q` asked for), repeated in
/// the link.
pub fn paged<T: Serialize>(
    path: &str,
    keep: &[(&str, Option<String>)],
    page: Page<T>,
) -> (HeaderMap, Json<Vec<T>>) {
    let mut headers = HeaderMap::new();
    if let Some(next) = page.next {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in keep {
            if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
                query.append_pair(name, v);
            }
        }
        query.append_pair("after", &next);
        if let Ok(v) = format!("<{path}?{}>; rel=\"next\"", query.finish()).parse() {
            headers.insert(axum::http::header::LINK, v);
        }
    }
    (headers, Json(page.items))
}
