//! The department directory: adding cards, refusing bad or conflicting
//! ones, and fingerprints people can compare with `ssh-keygen -l`.

mod common;

use common::{have, run_ok, Node, DEPT};
use predicates::str::contains;

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn list(node: &Node) -> Vec<serde_json::Value> {
    let out = node
        .cmd()
        .args(["dept", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn demo_cards_are_added_and_listed_with_fingerprints() {
    let node = Node::init();
    for id in ["br-swd-patna", "rj-dcpu-jaipur"] {
        let card = repo(&format!("keys/{id}.json"));
        let out = run_ok(node.cmd().args(["dept", "add"]).arg(&card));
        assert_eq!(common::stdout_line(&out.stdout), id);
        // Adding the same card again changes nothing and is fine.
        node.cmd()
            .args(["dept", "add"])
            .arg(&card)
            .assert()
            .success();
    }
    let all = list(&node);
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["id"], DEPT);
    assert_eq!(all[0]["this_node"], true);
    let patna = all.iter().find(|e| e["id"] == "br-swd-patna").unwrap();
    assert_eq!(patna["this_node"], false);
    assert!(patna["age_fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("SHA256:"));

    assert!(have("ssh-keygen"));
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(repo("fixtures/keys/br-swd-patna/ssh-ed25519.pub"))
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains(patna["ssh_fingerprint"].as_str().unwrap()),
        "{printed} vs {patna}"
    );
}

#[test]
fn conflicting_and_bad_cards_are_refused() {
    let node = Node::init();
    let card = repo("keys/br-swd-patna.json");
    node.cmd()
        .args(["dept", "add"])
        .arg(&card)
        .assert()
        .success();
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&card).unwrap()).unwrap();

    // Same id, other keys (another node's keys): refused without --replace.
    let other = Node::init();
    let out = other.cmd().args(["dept", "card"]).output().unwrap();
    let mut forged: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    forged["id"] = original["id"].clone();
    let forged_file = node.file("forged.json", forged.to_string().as_bytes());
    node.cmd()
        .args(["dept", "add"])
        .arg(&forged_file)
        .assert()
        .code(1)
        .stderr(contains("already in the directory with other keys"));
    let listed = list(&node);
    let patna = listed.iter().find(|e| e["id"] == "br-swd-patna").unwrap();
    assert_eq!(
        patna["age_recipient"], original["age_recipient"],
        "unchanged"
    );
    node.cmd()
        .args(["dept", "add", "--replace"])
        .arg(&forged_file)
        .assert()
        .success();

    // This node's own id.
    let mut own = original.clone();
    own["id"] = DEPT.into();
    let f = node.file("own.json", own.to_string().as_bytes());
    node.cmd()
        .args(["dept", "add"])
        .arg(&f)
        .assert()
        .code(1)
        .stderr(contains("own department"));

    let bad = |name: &str, field: &str, value: serde_json::Value, expect: &str| {
        let mut c = original.clone();
        c["id"] = "xx-new-dept".into();
        c[field] = value;
        let f = node.file(name, c.to_string().as_bytes());
        node.cmd()
            .args(["dept", "add"])
            .arg(&f)
            .assert()
            .code(1)
            .stderr(contains(expect.to_string()));
    };
    bad(
        "r.json",
        "age_recipient",
        "age1notarecipient".into(),
        "age recipient",
    );
    bad(
        "s.json",
        "ssh_public_key",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 x".into(),
        "ssh public key",
    );
    bad(
        "u.json",
        "inbox_url",
        "ftp://example.org/inbox".into(),
        "http(s)",
    );
    bad("i.json", "id", "Bad Id".into(), "department id");
    let f = node.file("n.json", b"{ not json");
    node.cmd()
        .args(["dept", "add"])
        .arg(&f)
        .assert()
        .code(1)
        .stderr(contains("not a department card"));
    assert!(list(&node).iter().all(|e| e["id"] != "xx-new-dept"));
}
