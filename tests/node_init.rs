//! `handover init`: the data directory, its modes, the card, and refusals.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Node, DEPT};
use predicates::str::contains;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_creates_a_private_node_and_prints_only_its_id() {
    let node = Node::uninitialised();
    let out = node
        .cmd()
        .args(["init", "--department", DEPT, "--name", "Test DCPU"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout.clone()).unwrap(),
        format!("{DEPT}\n")
    );
    let identity_text = std::fs::read_to_string(node.data.join("age-identity.txt")).unwrap();
    let secret = {
        use age::secrecy::ExposeSecret;
        let identity = handover::crypto::parse_identity(&identity_text).unwrap();
        identity.to_string().expose_secret().to_string()
    };
    let printed =
        String::from_utf8_lossy(&[out.stdout.clone(), out.stderr.clone()].concat()).into_owned();
    assert!(!printed.contains(&secret), "secrets are never printed");

    assert_eq!(mode(&node.data), 0o700);
    assert_eq!(mode(&node.data.join("age-identity.txt")), 0o600);
    assert_eq!(mode(&node.data.join("ssh-ed25519")), 0o600);
    let ssh = std::fs::read_to_string(node.data.join("ssh-ed25519")).unwrap();
    let key = ssh_key::PrivateKey::from_openssh(&ssh).expect("an OpenSSH private key");
    assert_eq!(key.algorithm(), ssh_key::Algorithm::Ed25519);
    assert!(!key.is_encrypted());
    assert_eq!(mode(&node.data.join("meta.db")), 0o600);
    let db = std::fs::read(node.data.join("meta.db")).unwrap();
    assert!(
        !db.starts_with(b"SQLite format 3"),
        "the database is encrypted"
    );

    let card = node.cmd().args(["dept", "card"]).output().unwrap();
    assert!(card.status.success());
    let card: serde_json::Value = serde_json::from_slice(&card.stdout).unwrap();
    assert_eq!(card["id"], DEPT);
    assert_eq!(card["name"], "Test DCPU");
    assert!(card["age_recipient"].as_str().unwrap().starts_with("age1"));
    assert!(card["ssh_public_key"]
        .as_str()
        .unwrap()
        .starts_with("ssh-ed25519 "));
    let identity = std::fs::read_to_string(node.data.join("age-identity.txt")).unwrap();
    assert!(identity.contains(card["age_recipient"].as_str().unwrap()));
}

#[test]
fn second_init_is_refused_and_changes_nothing() {
    let node = Node::init();
    let before = std::fs::read(node.data.join("age-identity.txt")).unwrap();
    node.cmd()
        .args(["init", "--department", "other-dept", "--name", "Other"])
        .assert()
        .code(1)
        .stderr(contains("already holds a handover node"));
    assert_eq!(
        std::fs::read(node.data.join("age-identity.txt")).unwrap(),
        before
    );
    let card = node.cmd().args(["dept", "card"]).output().unwrap();
    assert!(String::from_utf8_lossy(&card.stdout).contains(DEPT));
}

#[test]
fn a_directory_that_is_not_a_node_is_refused() {
    let node = Node::uninitialised();
    std::fs::create_dir_all(&node.data).unwrap();
    std::fs::write(node.data.join("something"), b"x").unwrap();
    node.cmd()
        .args(["child", "list"])
        .assert()
        .code(1)
        .stderr(contains("is not a handover node"));
    assert!(!node.data.join("meta.db").exists(), "nothing is created");
}

#[test]
fn bad_department_id_and_usage_errors_exit_1() {
    let node = Node::uninitialised();
    node.cmd()
        .args(["init", "--department", "Bad Id!", "--name", "X"])
        .assert()
        .code(1)
        .stderr(contains("department id"));
    assert!(!node.data.join("card.json").exists());
    node.cmd().args(["child", "frobnicate"]).assert().code(1);
}

#[test]
fn data_dir_from_environment() {
    let node = Node::uninitialised();
    let mut cmd = assert_cmd::Command::cargo_bin("handover").unwrap();
    cmd.env("HANDOVER_DATA_DIR", &node.data)
        .current_dir(node.tmp.path())
        .args(["init", "--department", DEPT, "--name", "Env"])
        .assert()
        .success();
    assert!(node.data.join("card.json").exists());
}

#[test]
fn passphrase_protects_the_identity() {
    let node = Node::uninitialised();
    node.cmd()
        .env("HANDOVER_PASSPHRASE", "test passphrase, not secret")
        .args(["init", "--department", DEPT, "--name", "P", "--passphrase"])
        .assert()
        .success();
    assert!(!node.data.join("age-identity.txt").exists());
    let sealed = std::fs::read(node.data.join("age-identity.age")).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1"));
    assert_eq!(mode(&node.data.join("age-identity.age")), 0o600);
    let ssh = std::fs::read_to_string(node.data.join("ssh-ed25519")).unwrap();
    let key = ssh_key::PrivateKey::from_openssh(&ssh).unwrap();
    assert!(key.is_encrypted(), "the signing key is protected too");

    node.cmd()
        .env("HANDOVER_PASSPHRASE", "test passphrase, not secret")
        .args(["child", "add", "--name", "Test Child"])
        .assert()
        .success();
    node.cmd()
        .env("HANDOVER_PASSPHRASE", "wrong")
        .args(["child", "list"])
        .assert()
        .code(1)
        .stderr(contains("wrong passphrase"));
    node.cmd()
        .args(["child", "list"])
        .assert()
        .code(1)
        .stderr(contains("passphrase-protected"));
}
