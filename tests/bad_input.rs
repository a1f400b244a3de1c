//! Every bad input gets a clear error, the documented exit code, and leaves
//! nothing behind: no document row, no blob, no staging file, no output file.

mod common;

use common::{pdf, Node};
use predicates::str::contains;

/// Asserts the node holds exactly `docs` documents for `child` and no blob
/// beyond them (no staging files either).
fn assert_nothing_left(node: &Node, child: &str, docs: usize) {
    assert_eq!(node.doc_ids(child).len(), docs, "documents");
    assert_eq!(
        node.blob_files().len(),
        docs,
        "blob files: {:?}",
        node.blob_files()
    );
}

#[test]
fn unknown_child_and_malformed_ids() {
    let node = Node::init();
    let child = node.add_child("Test Child");
    let file = node.file("a.pdf", &pdf(1000, "a"));
    let unknown = "01900000-0000-7000-8000-000000000000";
    node.cmd()
        .args(["doc", "put", unknown, "--kind", "fir"])
        .arg(&file)
        .assert()
        .code(1)
        .stderr(contains(format!("no child with id {unknown}")));
    node.cmd()
        .args(["doc", "put", "not-an-id", "--kind", "fir"])
        .arg(&file)
        .assert()
        .code(1);
    node.cmd()
        .args(["child", "show", unknown])
        .assert()
        .code(1)
        .stderr(contains("no child"));
    node.cmd()
        .args(["doc", "get", unknown, "-o", "-"])
        .assert()
        .code(1)
        .stderr(contains("no document"));
    assert_nothing_left(&node, &child, 0);
}

#[test]
fn unknown_kind_empty_file_and_executables() {
    let node = Node::init();
    let child = node.add_child("Test Child");
    let good = node.file("a.pdf", &pdf(1000, "a"));
    node.cmd()
        .args(["doc", "put", &child, "--kind", "passport"])
        .arg(&good)
        .assert()
        .code(1)
        .stderr(contains("unknown document kind"));
    let empty = node.file("empty.pdf", b"");
    node.cmd()
        .args(["doc", "put", &child, "--kind", "fir"])
        .arg(&empty)
        .assert()
        .code(1)
        .stderr(contains("empty"));
    let me = std::fs::read(assert_cmd::cargo::cargo_bin("handover")).unwrap();
    let exe = node.file("scan.pdf", &me[..200_000]);
    node.cmd()
        .args(["doc", "put", &child, "--kind", "fir"])
        .arg(&exe)
        .assert()
        .code(1)
        .stderr(contains("not an accepted document type"));
    let zip = node.file("scan2.pdf", b"PK\x03\x04\x14\0\0\0\0\0 some zip bytes");
    node.cmd()
        .args(["doc", "put", &child, "--kind", "fir"])
        .arg(&zip)
        .assert()
        .code(1)
        .stderr(contains("application/zip"));
    let text = node.file("note.txt", b"plain text\n");
    node.cmd()
        .args(["doc", "put", &child, "--kind", "fir"])
        .arg(&text)
        .assert()
        .code(1)
        .stderr(contains("only for kind `other`"));
    node.cmd()
        .args(["doc", "put", &child, "--kind", "other"])
        .arg(&text)
        .assert()
        .code(1)
        .stderr(contains("needs a title"));
    assert_nothing_left(&node, &child, 0);
}

#[test]
fn files_over_the_size_limit() {
    let node = Node::init();
    let child = node.add_child("Test Child");
    let big = node.file("big.pdf", &pdf(20_000, "big"));
    node.cmd()
        .env("HANDOVER_MAX_DOCUMENT_BYTES", "10000")
        .args(["doc", "put", &child, "--kind", "fir"])
        .arg(&big)
        .assert()
        .code(1)
        .stderr(contains("larger than the limit of 10000 bytes"));
    // From stdin the size is unknown until the stream passes the limit.
    node.cmd()
        .env("HANDOVER_MAX_DOCUMENT_BYTES", "10000")
        .args(["doc", "put", &child, "--kind", "fir", "-"])
        .write_stdin(pdf(20_000, "big"))
        .assert()
        .code(1)
        .stderr(contains("larger than the limit"));
    // A large upload through multipart, refused at the limit.
    node.cmd()
        .env("HANDOVER_MAX_DOCUMENT_BYTES", "15000000")
        .args(["doc", "put", &child, "--kind", "fir", "-"])
        .write_stdin(pdf(20_000_000, "big"))
        .assert()
        .code(1)
        .stderr(contains("larger than the limit"));
    let jpeg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scans/scan-gps.jpg");
    node.cmd()
        .env("HANDOVER_MAX_IMAGE_BYTES", "1000")
        .args(["doc", "put", &child, "--kind", "identity"])
        .arg(&jpeg)
        .assert()
        .code(1)
        .stderr(contains("accepted up to 1000 bytes"));
    assert_nothing_left(&node, &child, 0);
}

#[test]
fn missing_and_unreadable_inputs() {
    let node = Node::init();
    let child = node.add_child("Test Child");
    node.cmd()
        .args(["doc", "put", &child, "--kind", "fir"])
        .arg(node.path("no-such-file.pdf"))
        .assert()
        .code(1)
        .stderr(contains("cannot read"));
    // A directory cannot be read as a file (tests may run as root, where
    // permission bits do not stop reading).
    node.cmd()
        .args(["doc", "put", &child, "--kind", "fir"])
        .arg(node.tmp.path())
        .assert()
        .code(1)
        .stderr(contains("not a regular file"));
    assert_nothing_left(&node, &child, 0);
}

#[test]
fn input_cut_off_midway_is_refused() {
    let node = Node::init();
    let child = node.add_child("Test Child");
    let whole = pdf(3_000_000, "cut");
    // stdin closed midway: the PDF has no trailer.
    node.cmd()
        .args(["doc", "put", &child, "--kind", "fir", "-"])
        .write_stdin(whole[..1_500_000].to_vec())
        .assert()
        .code(1)
        .stderr(contains("incomplete"));
    // Same for a JPEG and a PNG cut short.
    let scans = common::scans_dir();
    for name in ["scan-gps.jpg", "scan-meta.png", "scan-meta.webp"] {
        let bytes = std::fs::read(scans.join(name)).unwrap();
        node.cmd()
            .args(["doc", "put", &child, "--kind", "identity", "-"])
            .write_stdin(bytes[..bytes.len() * 2 / 3].to_vec())
            .assert()
            .code(1)
            .stderr(contains("incomplete"));
    }
    assert_nothing_left(&node, &child, 0);
}

#[test]
fn flipped_byte_in_a_blob_fails_get_with_exit_2_and_no_output() {
    let node = Node::init();
    let child = node.add_child("Test Child");
    let bytes = pdf(500_000, "flip");
    let id = node.put(&child, "fir", &node.file("a.pdf", &bytes));
    let blob = node.blob_dir().join(format!("{id}.age"));
    let mut stored = std::fs::read(&blob).unwrap();
    for at in [stored.len() / 2, stored.len() - 20, 40] {
        stored[at] ^= 0x01;
        std::fs::write(&blob, &stored).unwrap();
        let out = node.path("out.pdf");
        node.cmd()
            .args(["doc", "get", &id, "-o"])
            .arg(&out)
            .assert()
            .code(2)
            .stderr(contains("integrity failure"));
        assert!(!out.exists());
        assert!(!node.path("out.pdf.partial").exists());
        node.cmd()
            .args(["doc", "get", &id, "-o", "-"])
            .assert()
            .code(2);
        node.cmd()
            .args(["check"])
            .assert()
            .code(2)
            .stdout(contains(format!("corrupt\t{id}")));
        stored[at] ^= 0x01;
    }
    std::fs::write(&blob, &stored).unwrap();
    node.cmd().args(["check"]).assert().success();
}

#[test]
fn missing_and_orphaned_blobs_are_reported() {
    let node = Node::init();
    let child = node.add_child("Test Child");
    let a = node.put(&child, "fir", &node.file("a.pdf", &pdf(1000, "a")));
    let blob = node.blob_dir().join(format!("{a}.age"));
    let copy = node
        .blob_dir()
        .join("01900000-0000-7000-8000-000000000001.age");
    std::fs::copy(&blob, &copy).unwrap();
    std::fs::remove_file(&blob).unwrap();
    node.cmd()
        .args(["doc", "get", &a, "-o", "-"])
        .assert()
        .code(2)
        .stderr(contains("missing"));
    let out = node.cmd().args(["check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["missing"], serde_json::json!([a]));
    assert_eq!(
        v["orphaned"],
        serde_json::json!(["documents/01900000-0000-7000-8000-000000000001.age"])
    );
    // gc keeps orphans unless asked: they may be evidence.
    node.cmd().args(["gc"]).assert().success();
    assert!(copy.exists());
    node.cmd().args(["gc", "--orphans"]).assert().success();
    assert!(!copy.exists());
}
