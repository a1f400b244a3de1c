//! The pages' CSS, JavaScript and icon, embedded in the binary and served
//! from our own origin under names that carry a digest of their content
//! (`/assets/app.1a2b3c4d5e6f.css`), so they can be cached as immutable:
//! a phone on a weak link fetches each one once. Nothing comes from a CDN.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    /// `app.css`, as in `assets/`.
    pub file: &'static str,
    pub media_type: &'static str,
    pub bytes: &'static [u8],
}

const FILES: [Asset; 3] = [
    Asset {
        file: "app.css",
        media_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/app.css"),
    },
    Asset {
        file: "upload.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/upload.js"),
    },
    Asset {
        file: "icon.svg",
        media_type: "image/svg+xml",
        bytes: include_bytes!("../../assets/icon.svg"),
    },
];

/// Each file's served name, with the first 12 hex digits of its SHA-256.
fn names() -> &'static [String; 3] {
    static NAMES: OnceLock<[String; 3]> = OnceLock::new();
    NAMES.get_or_init(|| {
        FILES.each_ref().map(|a| {
            let digest = hex::encode(Sha256::digest(a.bytes));
            let (stem, ext) = a
                .file
                .rsplit_once('.')
                .expect("asset names have an extension");
            format!("{stem}.{}.{ext}", &digest[..12])
        })
    })
}

/// The URL of the embedded file `file` (`app.css`).
pub fn url(file: &str) -> String {
    let i = FILES
        .iter()
        .position(|a| a.file == file)
        .expect("an embedded asset");
    format!("/assets/{}", names()[i])
}

/// Every embedded file with its URL (for the page-weight bench and tests).
pub fn all() -> impl Iterator<Item = (String, &'static Asset)> {
    FILES.iter().map(|a| (url(a.file), a))
}

/// `GET /assets/{name}`: the file, cached for a year as immutable; an
/// old or unknown name is 404.
pub async fn serve(Path(name): Path<String>) -> Response {
    let Some(i) = names().iter().position(|n| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let asset = &FILES[i];
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.media_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}
