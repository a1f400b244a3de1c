//! Stored documents are plain age files, split in two: the header (with the
//! wrapped file key) in the database and the payload in the blob store.
//! `doc get --sealed` puts them back together, and the stock `age` command
//! decrypts that with the node identity to the stored digest; the payload
//! alone opens with nothing.

mod common;

use common::{have, pdf, sha256_file, Node};

#[test]
fn stock_age_decrypts_a_stored_blob() {
    assert!(
        have("age"),
        "the stock `age` command is needed (Debian package `age`)"
    );
    let node = Node::init();
    let child = node.add_child("Test Child");
    let bytes = pdf(3_000_000, "age-interop");
    let id = node.put(&child, "fir", &node.file("a.pdf", &bytes));
    let sealed = node.path("sealed.age");
    common::run_ok(
        node.cmd()
            .args(["doc", "get", &id, "--sealed", "-o"])
            .arg(&sealed),
    );
    let whole = std::fs::read(&sealed).unwrap();
    let payload = std::fs::read(node.blob_dir().join(format!("{id}.age"))).unwrap();
    assert!(whole.starts_with(b"age-encryption.org/v1\n"));
    assert!(
        whole.ends_with(&payload),
        "the sealed file is header + payload"
    );
    let out = node.path("by-age.pdf");
    let age_d = |file: &std::path::Path| {
        std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(node.data.join("age-identity.txt"))
            .arg("-o")
            .arg(&out)
            .arg(file)
            .status()
            .unwrap()
    };
    assert!(age_d(&sealed).success());
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    assert_eq!(node.doc_meta(&child, &id)["sha256"], sha256_file(&out));
    std::fs::remove_file(&out).unwrap();
    assert!(!age_d(&node.blob_dir().join(format!("{id}.age"))).success());
}

#[test]
fn stock_age_encrypted_file_from_our_recipient_round_trips_through_the_identity() {
    // The card's recipient is usable by anyone with stock age; the node's
    // identity file is what opens it.
    assert!(have("age"));
    let node = Node::init();
    let card = node.cmd().args(["dept", "card"]).output().unwrap();
    let card: serde_json::Value = serde_json::from_slice(&card.stdout).unwrap();
    let plain = node.file("p.txt", b"synthetic");
    let sealed = node.path("p.age");
    assert!(std::process::Command::new("age")
        .args(["-r", card["age_recipient"].as_str().unwrap(), "-o"])
        .arg(&sealed)
        .arg(&plain)
        .status()
        .unwrap()
        .success());
    let out = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(node.data.join("age-identity.txt"))
        .arg(&sealed)
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"synthetic");
}

#[test]
fn stock_age_reads_the_passphrase_protected_identity() {
    // age asks for the passphrase on a terminal; `script` gives it one.
    assert!(have("age") && have("script"));
    let node = Node::uninitialised();
    let pass = "test passphrase, not secret";
    node.cmd()
        .env("HANDOVER_PASSPHRASE", pass)
        .args(["init", "--department", common::DEPT, "--name", "P"])
        .assert()
        .success();
    assert!(
        node.data.join("age-identity.age").exists(),
        "the variable alone protects it"
    );
    let child = {
        let out = node
            .cmd()
            .env("HANDOVER_PASSPHRASE", pass)
            .args(["child", "add", "--name", "Test Child"])
            .output()
            .unwrap();
        common::stdout_line(&out.stdout)
    };
    let bytes = pdf(100_000, "protected");
    let input = node.file("a.pdf", &bytes);
    let out = node
        .cmd()
        .env("HANDOVER_PASSPHRASE", pass)
        .args(["doc", "put", &child, "--kind", "fir"])
        .arg(&input)
        .output()
        .unwrap();
    let id = common::stdout_line(&out.stdout);
    let sealed = node.path("sealed.age");
    node.cmd()
        .env("HANDOVER_PASSPHRASE", pass)
        .args(["doc", "get", &id, "--sealed", "-o"])
        .arg(&sealed)
        .assert()
        .success();
    let decrypted = node.path("by-age.pdf");
    let command = format!(
        "age -d -i {} -o {} {}",
        node.data.join("age-identity.age").display(),
        decrypted.display(),
        sealed.display()
    );
    let status = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::fs::File::open(node.file("pass.txt", format!("{pass}\n").as_bytes())).unwrap())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(&decrypted).unwrap(), bytes);
}
