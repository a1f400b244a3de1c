//! Clients nobody here wrote upload to `handover serve`: tuspy (PyPI)
//! resuming with a second uploader, and tus-js-client (npm) under Node
//! through a link that keeps breaking. The bytes must come back identical
//! and the document must carry their digest. `.ci/run` installs both; a
//! missing one fails these tests rather than skipping them.
//! Synthetic data only.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::server::{free_port, Server};
use common::tus::{marked_pdf, CuttingProxy};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

fn node() -> (TempDir, Server, String, String) {
    let tmp = TempDir::new().unwrap();
    let s = Server::start(&tmp.path().join("node"), free_port(), "test-dcpu", &[]);
    let admin = s.admin();
    let staff = s.user(&admin, "staff", "shelter_staff", "institution:home-1");
    let child = s.create(
        &staff,
        "/api/v1/children",
        json!({"name": "Synthetic Child"}),
        201,
    );
    (tmp, s, staff, child)
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tus")
        .join(name)
}

/// The child's only document: its id and recorded digest, and its bytes.
fn the_document(s: &Server, staff: &str, child: &str) -> (String, String, Vec<u8>) {
    let docs = s.get_json(staff, &format!("/api/v1/children/{child}/documents"));
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), 1, "{docs:?}");
    let id = docs[0]["id"].as_str().unwrap().to_string();
    let bytes = s
        .get(staff, &format!("/api/v1/documents/{id}/content"))
        .send()
        .unwrap()
        .bytes()
        .unwrap()
        .to_vec();
    (id, docs[0]["sha256"].as_str().unwrap().to_string(), bytes)
}

#[test]
fn tuspy_uploads_and_resumes_with_a_second_uploader() {
    let (tmp, s, staff, child) = node();
    let file = marked_pdf(5 * 1024 * 1024 + 333, "TUSPY");
    let path = tmp.path().join("scan.pdf");
    std::fs::write(&path, &file).unwrap();
    let out = Command::new("python3")
        .arg(script("tuspy_upload.py"))
        .arg(s.url("/api/v1/uploads"))
        .arg(&staff)
        .arg(&child)
        .arg("medical_report")
        .arg(&path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "tuspy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap();
    assert!(url.contains("/api/v1/uploads/"), "{url}");
    let (_, digest, bytes) = the_document(&s, &staff, &child);
    assert_eq!(bytes, file);
    assert_eq!(digest, hex::encode(Sha256::digest(&file)));
}

#[test]
fn tus_js_client_under_node_delivers_through_a_link_that_keeps_breaking() {
    let (tmp, s, staff, child) = node();
    let proxy = CuttingProxy::start(s.port, 900 * 1024);
    let file = marked_pdf(12 * 1024 * 1024, "TUSJS");
    let path = tmp.path().join("scan.pdf");
    std::fs::write(&path, &file).unwrap();
    let modules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tus-js/node_modules");
    assert!(
        modules.join("tus-js-client/package.json").is_file(),
        "tus-js-client is not installed in target/tus-js (.ci/run installs it)"
    );
    let out = Command::new("node")
        .arg(script("tusjs_upload.js"))
        .arg(&modules)
        .arg(format!("http://127.0.0.1:{}/api/v1/uploads", proxy.port))
        .arg(&staff)
        .arg(&child)
        .arg("fir")
        .arg(&path)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "tus-js-client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(result["retries"].as_u64().unwrap() >= 5, "{result}");
    assert!(proxy.cuts.load(std::sync::atomic::Ordering::SeqCst) >= 10);
    let (id, digest, bytes) = the_document(&s, &staff, &child);
    assert_eq!(result["document"], id.as_str());
    assert_eq!(bytes, file);
    assert_eq!(digest, hex::encode(Sha256::digest(&file)));
}
