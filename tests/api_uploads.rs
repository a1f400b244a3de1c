//! Resumable uploads (tus 1.0.0 at `/api/v1/uploads`) against a real
//! `handover serve`: the protocol, the bytes never in clear on disk (while
//! half done and after a kill -9), resuming after a restart and through a
//! link that keeps breaking, what intake refuses leaving nothing staged,
//! the per-user limits, expiry, and page sessions under the CSRF rule.
//! Synthetic data only.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::server::{client, free_port, problem, Server};
use common::tus::{marked_pdf, metadata, Auth, CuttingProxy, Tus};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

fn node(env: &[(&str, &str)]) -> (TempDir, Server, String, String) {
    let tmp = TempDir::new().unwrap();
    let s = Server::start(&tmp.path().join("node"), free_port(), "test-dcpu", env);
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

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Files under the node's data directory that hold `marker` in clear.
fn files_holding(data: &Path, marker: &str) -> Vec<String> {
    common::files_under(data)
        .into_iter()
        .filter(|f| {
            std::fs::read(f)
                .map(|b| b.windows(marker.len()).any(|w| w == marker.as_bytes()))
                .unwrap_or(false)
        })
        .map(|f| f.display().to_string())
        .collect()
}

fn staged_files(data: &Path) -> Vec<std::path::PathBuf> {
    common::files_under(&data.join("uploads"))
}

/// Waits until a completed upload's segments are gone (they are removed
/// just after the answer).
fn drained(data: &Path) {
    common::server::wait_for(10, "the staged segments to be removed", || {
        staged_files(data).is_empty().then_some(())
    });
}

use common::audit_lines as audit;

fn content(s: &Server, token: &str, doc: &str) -> Vec<u8> {
    let r = s
        .get(token, &format!("/api/v1/documents/{doc}/content"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().unwrap().to_vec()
}

#[test]
fn the_protocol_from_discovery_to_a_document() {
    let (_tmp, s, staff, child) = node(&[]);
    let tus = Tus::new(&s.url(""), Auth::Bearer(staff.clone()));
    let c = client();

    // Discovery.
    let r = c
        .request(Method::OPTIONS, s.url("/api/v1/uploads"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    assert_eq!(r.headers()["tus-version"], "1.0.0");
    let ext = r.headers()["tus-extension"].to_str().unwrap().to_string();
    for e in [
        "creation",
        "creation-with-upload",
        "termination",
        "expiration",
    ] {
        assert!(ext.split(',').any(|x| x == e), "{e} in {ext}");
    }
    assert_eq!(r.headers()["tus-max-size"], "2147483648");

    // Another version, or none: 412, naming ours.
    for version in [Some("0.2.2"), None] {
        let mut req = c
            .post(s.url("/api/v1/uploads"))
            .bearer_auth(&staff)
            .header("upload-length", "10")
            .header("upload-metadata", metadata(&child, "fir", None));
        if let Some(v) = version {
            req = req.header("tus-resumable", v);
        }
        let r = req.send().unwrap();
        assert_eq!(r.status(), 412);
        assert_eq!(r.headers()["tus-version"], "1.0.0");
        assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    }

    // Creation: a file name in the metadata is ignored, never kept.
    let file = marked_pdf(3 * 1024 * 1024 + 123, "ROHINI-KUMARI-SCAN");
    let meta = format!(
        "{},filename {}",
        metadata(&child, "fir", Some("FIR scan")),
        <base64ct::Base64 as base64ct::Encoding>::encode_string(b"rohini-kumari-fir.pdf")
    );
    let r = tus
        .request(Method::POST, "/api/v1/uploads")
        .header("upload-length", file.len().to_string())
        .header("upload-metadata", meta)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    assert!(r.headers().contains_key("upload-expires"));
    let expires = r.headers()["upload-expires"].to_str().unwrap().to_string();
    assert!(expires.ends_with(" GMT"), "{expires}");
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/api/v1/uploads/"), "{location}");

    assert_eq!(tus.head(&location).unwrap(), (Some(0), None));

    // A PATCH at the wrong offset: 409, and nothing moves.
    let r = tus.patch(&location, 5, file[5..100].to_vec()).unwrap();
    let (status, kind) = problem(r);
    assert_eq!(
        (status, kind.as_str()),
        (409, "urn:handover:problem:upload-offset")
    );
    // Not the offset stream: 415.
    let r = tus
        .request(Method::PATCH, &location)
        .header("upload-offset", "0")
        .header("content-type", "application/octet-stream")
        .body(file[..10].to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 415);

    // Half, then (through the method override) the rest.
    let half = 1536 * 1024 + 7;
    let r = tus.patch(&location, 0, file[..half].to_vec()).unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["upload-offset"], half.to_string().as_str());
    assert!(!r.headers().contains_key("handover-document"));
    assert_eq!(tus.head(&location).unwrap(), (Some(half as u64), None));
    let r = tus
        .request(Method::POST, &location)
        .header("x-http-method-override", "PATCH")
        .header("upload-offset", half.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(file[half..].to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().unwrap_or_default());
    assert_eq!(
        r.headers()["upload-offset"],
        file.len().to_string().as_str()
    );
    let doc = r.headers()["handover-document"]
        .to_str()
        .unwrap()
        .to_string();

    // The document, byte for byte, with its digest; no file name kept.
    let meta = s.get_json(&staff, &format!("/api/v1/documents/{doc}"));
    assert_eq!(meta["sha256"], sha(&file));
    assert_eq!(meta["size"], file.len() as u64);
    assert_eq!(meta["kind"], "fir");
    assert_eq!(meta["title"], "FIR scan");
    assert!(meta["file_name"].is_null(), "{meta}");
    assert_eq!(content(&s, &staff, &doc), file);
    // Asked again (the last answer lost on the way): complete, same document.
    assert_eq!(
        tus.head(&location).unwrap(),
        (Some(file.len() as u64), Some(doc.clone()))
    );
    let r = tus.patch(&location, file.len() as u64, vec![]).unwrap();
    assert_eq!(
        problem(r),
        (409, "urn:handover:problem:upload-complete".into())
    );
    assert_eq!(
        s.get_json(&staff, &format!("/api/v1/children/{child}/documents"))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Nothing staged is left, and the name was never written anywhere.
    drained(&s.data);
    assert!(files_holding(&s.data, "rohini-kumari").is_empty());
    // Audited: the start and the completion, as adding a document to the
    // child; the appends themselves add no lines.
    let upload_id = location.rsplit('/').next().unwrap();
    let lines: Vec<_> = audit(&s.data)
        .into_iter()
        .filter(|l| l["target"] == upload_id)
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        assert_eq!(l["action"], "add_document");
        assert_eq!(l["decision"], "allow");
        assert_eq!(l["child"], child);
    }

    // creation-with-upload, then termination through the override.
    let small = marked_pdf(200 * 1024, "SMALL");
    let r = tus
        .request(Method::POST, "/api/v1/uploads")
        .header("upload-length", small.len().to_string())
        .header("upload-metadata", metadata(&child, "medical_report", None))
        .header("content-type", "application/offset+octet-stream")
        .body(small[..100_000].to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["upload-offset"], "100000");
    let second = r.headers()["location"].to_str().unwrap().to_string();
    assert!(!staged_files(&s.data).is_empty());
    let r = tus
        .request(Method::POST, &second)
        .header("x-http-method-override", "DELETE")
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(tus.head(&second).unwrap(), (None, None));
    assert!(staged_files(&s.data).is_empty());
    let r = tus.request(Method::DELETE, &second).send().unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn no_byte_is_in_clear_on_disk_half_done_or_after_a_kill_and_the_upload_resumes() {
    const MARKER: &str = "PLANTED-MARKER-7f3a9c";
    let (_tmp, mut s, staff, child) = node(&[]);
    let tus = Tus::new(&s.url(""), Auth::Bearer(staff.clone()));
    let file = marked_pdf(6 * 1024 * 1024 + 1000, MARKER);
    let location = tus.create(&child, "medical_report", file.len() as u64);

    // Half done: segments on disk, none in clear.
    let half = 2 * 1024 * 1024 + 5000;
    let r = tus.patch(&location, 0, file[..half].to_vec()).unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        staged_files(&s.data).len() >= 3,
        "{:?}",
        staged_files(&s.data)
    );
    assert_eq!(files_holding(&s.data, MARKER), Vec::<String>::new());

    // A PATCH that is killed in the middle: raw bytes, then kill -9.
    let mut raw = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let rest = &file[half..];
    write!(
        raw,
        "PATCH {location} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {staff}\r\n\
         tus-resumable: 1.0.0\r\nupload-offset: {half}\r\n\
         content-type: application/offset+octet-stream\r\ncontent-length: {}\r\n\r\n",
        rest.len()
    )
    .unwrap();
    raw.write_all(&rest[..rest.len() / 2]).unwrap();
    raw.flush().unwrap();
    // Its first segment is committed once the next one is being written
    // (a segment's file is started only after the previous row commits).
    common::server::wait_for(20, "a committed segment of the killed PATCH", || {
        let files = staged_files(&s.data);
        let done = files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "age"))
            .count();
        let writing = files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "partial"));
        (done >= 4 && writing).then_some(())
    });
    s.kill();
    drop(raw);
    assert_eq!(files_holding(&s.data, MARKER), Vec::<String>::new());

    // After a restart the upload resumes from its durable offset.
    s.restart();
    let (offset, doc) = tus.head(&location).unwrap();
    let offset = offset.unwrap();
    assert!(doc.is_none());
    assert!(offset > half as u64, "{offset} after the killed PATCH");
    assert!(offset < file.len() as u64);
    let (doc, _) = tus.finish(&location, &file, 5);
    assert_eq!(content(&s, &staff, &doc), file);
    assert_eq!(
        s.get_json(&staff, &format!("/api/v1/documents/{doc}"))["sha256"],
        sha(&file)
    );
    drained(&s.data);
    assert_eq!(files_holding(&s.data, MARKER), Vec::<String>::new());
    s.stop();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handover"))
        .args(["--data-dir", s.data.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("staged uploads: 0"));
}

#[test]
fn a_kill_after_the_last_byte_leaves_the_upload_whole_or_gone() {
    let (_tmp, mut s, staff, child) = node(&[]);
    let tus = Tus::new(&s.url(""), Auth::Bearer(staff.clone()));
    let file = marked_pdf(24 * 1024 * 1024, "LAST-BYTE");
    let location = tus.create(&child, "fir", file.len() as u64);
    let r = tus
        .patch(&location, 0, file[..file.len() - 100_000].to_vec())
        .unwrap();
    assert_eq!(r.status(), 204);
    // The last bytes, and a kill as soon as they are written: the sealing
    // of 24 MB may or may not have finished.
    let mut raw = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let offset = file.len() - 100_000;
    write!(
        raw,
        "PATCH {location} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {staff}\r\n\
         tus-resumable: 1.0.0\r\nupload-offset: {offset}\r\n\
         content-type: application/offset+octet-stream\r\ncontent-length: 100000\r\n\r\n"
    )
    .unwrap();
    raw.write_all(&file[offset..]).unwrap();
    raw.flush().unwrap();
    std::thread::sleep(Duration::from_millis(150));
    s.kill();
    s.restart();
    let docs = || {
        s.get_json(&staff, &format!("/api/v1/children/{child}/documents"))
            .as_array()
            .unwrap()
            .clone()
    };
    match tus.head(&location).unwrap() {
        (Some(_), _) => {
            let (doc, _) = tus.finish(&location, &file, 5);
            assert_eq!(content(&s, &staff, &doc), file);
            assert_eq!(docs().len(), 1);
        }
        (None, _) => assert!(docs().is_empty(), "gone whole"),
    }
    drained(&s.data);
    s.stop();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handover"))
        .args(["--data-dir", s.data.to_str().unwrap(), "check", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["interrupted"], json!([]), "{report}");
    assert_eq!(report["orphaned"], json!([]), "{report}");
    assert_eq!(report["staged_uploads"], 0, "{report}");
}

#[test]
fn a_link_that_keeps_breaking_still_delivers_the_file_whole() {
    let (_tmp, s, staff, child) = node(&[]);
    let proxy = CuttingProxy::start(s.port, 700 * 1024);
    let base = format!("http://127.0.0.1:{}", proxy.port);
    let direct = Tus::new(&s.url(""), Auth::Bearer(staff.clone()));
    let through = Tus::new(&base, Auth::Bearer(staff.clone()));
    let file = marked_pdf(50 * 1024 * 1024, "BREAKING");
    let location = direct.create(&child, "legal_statement", file.len() as u64);
    let (doc, patches) = through.finish(&location, &file, 400);
    assert!(proxy.cuts.load(std::sync::atomic::Ordering::SeqCst) >= 50);
    assert!(patches >= 50, "{patches} PATCHes");
    let sent = proxy.sent.load(std::sync::atomic::Ordering::SeqCst);
    let ratio = sent as f64 / file.len() as f64;
    assert!(
        ratio < 1.5,
        "{sent} bytes sent for {} ({ratio:.3}×)",
        file.len()
    );
    assert_eq!(content(&s, &staff, &doc), file);
    assert_eq!(
        s.get_json(&staff, &format!("/api/v1/documents/{doc}"))["sha256"],
        sha(&file)
    );
}

#[test]
fn what_intake_refuses_leaves_nothing_staged() {
    let (_tmp, s, staff, child) = node(&[]);
    let tus = Tus::new(&s.url(""), Auth::Bearer(staff.clone()));
    // An ELF binary called a PDF: refused once its first 64 KiB are in,
    // long before its end.
    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.resize(4 * 1024 * 1024, 0x90);
    let location = tus.create(&child, "fir", elf.len() as u64);
    let r = tus.patch(&location, 0, elf[..200 * 1024].to_vec()).unwrap();
    assert_eq!(
        problem(r),
        (422, "urn:handover:problem:document-refused".into())
    );
    assert_eq!(tus.head(&location).unwrap(), (None, None));
    assert!(staged_files(&s.data).is_empty());

    // A PDF cut off (no end marker): refused at completion, all removed.
    let mut cut = marked_pdf(1024 * 1024, "CUT");
    cut.truncate(cut.len() - 7);
    let location = tus.create(&child, "fir", cut.len() as u64);
    let r = tus.patch(&location, 0, cut.clone()).unwrap();
    let (status, kind) = problem(r);
    assert_eq!(
        (status, kind.as_str()),
        (422, "urn:handover:problem:document-refused")
    );
    assert_eq!(tus.head(&location).unwrap(), (None, None));
    assert!(staged_files(&s.data).is_empty());
    assert!(s
        .get_json(&staff, &format!("/api/v1/children/{child}/documents"))
        .as_array()
        .unwrap()
        .is_empty());

    // Bigger than a document may be: 413 at creation.
    let r = tus
        .request(Method::POST, "/api/v1/uploads")
        .header("upload-length", (3u64 << 30).to_string())
        .header("upload-metadata", metadata(&child, "fir", None))
        .send()
        .unwrap();
    assert_eq!(problem(r), (413, "urn:handover:problem:too-large".into()));
    // A body that would end past Upload-Length: 400, nothing moves.
    let location = tus.create(&child, "fir", 1000);
    let r = tus.patch(&location, 0, vec![b'%'; 2000]).unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(tus.head(&location).unwrap(), (Some(0), None));

    // Someone else's upload reads as unknown; a child out of scope too.
    let admin = s.admin();
    let other = s.user(&admin, "other", "shelter_staff", "institution:home-2");
    let theirs = Tus::new(&s.url(""), Auth::Bearer(other));
    assert_eq!(theirs.head(&location).unwrap(), (None, None));
    let r = theirs.patch(&location, 0, vec![b'%'; 10]).unwrap();
    assert_eq!(r.status(), 404);
    let r = theirs
        .request(Method::POST, "/api/v1/uploads")
        .header("upload-length", "1000")
        .header("upload-metadata", metadata(&child, "fir", None))
        .send()
        .unwrap();
    assert_eq!(problem(r), (404, "urn:handover:problem:not-found".into()));
    // Without credentials: 401.
    let r = client()
        .post(s.url("/api/v1/uploads"))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "1000")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn each_user_has_limits_and_an_expired_upload_is_gone() {
    let (_tmp, s, staff, child) = node(&[
        ("HANDOVER_UPLOADS_MAX_OPEN_PER_USER", "2"),
        ("HANDOVER_UPLOADS_MAX_STAGED_BYTES_PER_USER", "3000000"),
        ("HANDOVER_UPLOAD_EXPIRY_SECS", "3"),
    ]);
    let tus = Tus::new(&s.url(""), Auth::Bearer(staff.clone()));
    let start = |len: u64| {
        tus.request(Method::POST, "/api/v1/uploads")
            .header("upload-length", len.to_string())
            .header("upload-metadata", metadata(&child, "fir", None))
            .send()
            .unwrap()
    };
    // Over the staged bytes: 413, with a clear problem.
    let r = start(3_000_001);
    let body: Value = {
        assert_eq!(r.status(), 413);
        r.json().unwrap()
    };
    assert_eq!(body["type"], "urn:handover:problem:too-many-staged-bytes");
    assert!(body["detail"].as_str().unwrap().contains("3000000 bytes"));
    // Over the number open: 429.
    let first = start(1_000_000);
    assert_eq!(first.status(), 201);
    let first = first.headers()["location"].to_str().unwrap().to_string();
    let file = marked_pdf(300 * 1024, "EXPIRES");
    assert_eq!(
        tus.patch(&first, 0, file[..200 * 1024].to_vec())
            .unwrap()
            .status(),
        204
    );
    assert_eq!(start(1_000_000).status(), 201);
    let r = start(1000);
    let (status, kind) = problem(r);
    assert_eq!(
        (status, kind.as_str()),
        (429, "urn:handover:problem:too-many-uploads")
    );
    // Expired: unknown, and what it staged is removed.
    assert!(!staged_files(&s.data).is_empty());
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(tus.head(&first).unwrap(), (None, None));
    let r = tus
        .patch(&first, 200 * 1024, file[200 * 1024..].to_vec())
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(staged_files(&s.data).is_empty());
    // The expired uploads no longer count against the limits.
    assert_eq!(start(1_000_000).status(), 201);
}

#[test]
fn a_page_session_uploads_under_the_pages_csrf_rule() {
    let (_tmp, s, _staff, child) = node(&[]);
    let mut web = common::web::Web::new(&s.url(""));
    let r = web.login("staff", "staff-password-long");
    assert_eq!(r.status, 303);
    // A page with a form: its token is the session's.
    assert_eq!(web.get("/children/new").status, 200);
    let cookie = web
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let token = web.csrf.clone();
    let file = marked_pdf(300 * 1024, "SESSION");
    let start = |tus: &Tus, origin: Option<&str>| {
        let mut r = tus
            .request(Method::POST, "/api/v1/uploads")
            .header("upload-length", file.len().to_string())
            .header("upload-metadata", metadata(&child, "fir", None));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send().unwrap()
    };
    // Without the form token, or from another site: refused, nothing staged.
    let no_token = Tus::new(
        &s.url(""),
        Auth::Session {
            cookie: cookie.clone(),
            token: "forged".into(),
        },
    );
    assert_eq!(
        problem(start(&no_token, None)),
        (403, "urn:handover:problem:cross-site-request".into())
    );
    let good = Tus::new(
        &s.url(""),
        Auth::Session {
            cookie: cookie.clone(),
            token: token.clone(),
        },
    );
    let r = good
        .request(Method::POST, "/api/v1/uploads")
        .header("upload-length", file.len().to_string())
        .header("upload-metadata", metadata(&child, "fir", None))
        .header("sec-fetch-site", "cross-site")
        .send()
        .unwrap();
    assert_eq!(
        problem(r),
        (403, "urn:handover:problem:cross-site-request".into())
    );
    assert!(staged_files(&s.data).is_empty());
    // With both: the upload works as with a token.
    let location = good.create(&child, "fir", file.len() as u64);
    let (doc, _) = good.finish(&location, &file, 3);
    let staff = s.login("staff", "staff-password-long");
    assert_eq!(content(&s, &staff, &doc), file);
}

#[test]
fn check_reports_staged_uploads_and_gc_removes_expired_ones() {
    let (_tmp, mut s, staff, child) = node(&[("HANDOVER_UPLOAD_EXPIRY_SECS", "4")]);
    let tus = Tus::new(&s.url(""), Auth::Bearer(staff.clone()));
    let file = marked_pdf(2 * 1024 * 1024, "GC");
    let location = tus.create(&child, "fir", file.len() as u64);
    let half = 1024 * 1024 + 17;
    assert_eq!(
        tus.patch(&location, 0, file[..half].to_vec())
            .unwrap()
            .status(),
        204
    );
    s.stop();
    let data = s.data.clone();
    let handover = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_handover"))
            .args(["--data-dir", data.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let out = handover(&["check", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["staged_uploads"], 1, "{report}");
    assert_eq!(report["staged_upload_bytes"], half as u64, "{report}");
    assert_eq!(report["broken_uploads"], json!([]));
    // Before it expires gc keeps it; after, gc removes it and its files.
    let out = handover(&["gc", "--json"]);
    let gc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(gc["uploads"], 0, "{gc}");
    assert!(!staged_files(&s.data).is_empty());
    std::thread::sleep(Duration::from_secs(5));
    let out = handover(&["gc", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(gc["uploads"], 1, "{gc}");
    assert!(staged_files(&s.data).is_empty());
    let out = handover(&["check", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["staged_uploads"], 0, "{report}");
    // A segment file lost from disk is reported as a broken upload.
    s.restart();
    let location = tus.create(&child, "fir", file.len() as u64);
    assert_eq!(
        tus.patch(&location, 0, file[..half].to_vec())
            .unwrap()
            .status(),
        204
    );
    s.stop();
    std::fs::remove_file(&staged_files(&s.data)[0]).unwrap();
    let out = handover(&["check", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["broken_uploads"].as_array().unwrap().len(),
        1,
        "{report}"
    );
}
