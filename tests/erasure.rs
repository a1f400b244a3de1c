//! `handover child erase`: crypto-erasure that reaches the copies. After an
//! erasure and a prune of the backups taken before it, a planted name and
//! document content are found nowhere, even with the node's own keys: not
//! in the node, not in any backup left, not in the object store. A backup
//! taken before the erasure still opens them until it is pruned (what the
//! design promises, shown). Synthetic data only.

mod common;

use std::path::{Path, PathBuf};

use common::{files_containing, pdf, run_ok, Node, Store};
use serde_json::Value;

const NAME: &str = "Zqxerasename Synthetic";
const CONTENT: &str = "ZQX-ERASE-CONTENT-MARK";

fn backup(node: &Node, set: &Path) -> PathBuf {
    let out = run_ok(node.cmd().arg("backup").arg("--to").arg(set));
    PathBuf::from(common::stdout_line(&out.stdout))
}

/// Restores `from` into a new node on a store like `store`; returns it.
fn restored(node: &Node, from: &Path, store: &Store) -> Node {
    let target = Node::uninitialised_on(store.fresh());
    run_ok(
        target
            .cmd()
            .arg("restore")
            .arg("--from")
            .arg(from)
            .arg("--keys")
            .arg(&node.data),
    );
    target
}

/// Everything a node can show of its children and documents, with its keys.
fn readable(node: &Node) -> String {
    let mut all = String::new();
    let out = run_ok(node.cmd().args(["child", "list", "--json"]));
    all.push_str(&String::from_utf8_lossy(&out.stdout));
    let children: Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in children.as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        for d in node.doc_ids(id) {
            let out = run_ok(node.cmd().args(["doc", "get", &d, "-o", "-"]));
            all.push_str(&String::from_utf8_lossy(&out.stdout));
        }
    }
    all
}

on_each_store!(erasure_reaches_the_node_the_store_and_every_backup_left);

fn erasure_reaches_the_node_the_store_and_every_backup_left(store: Store) {
    let node = Node::init_on(store.clone());
    let kept = node.add_child("Synthetic Kept Child");
    node.put(&kept, "fir", &node.file("kept.pdf", &pdf(60_000, "kept")));
    let child = common::created_id(node.cmd().args([
        "child",
        "add",
        "--name",
        NAME,
        "--institution",
        "home-1",
        "--district",
        "rajasthan/jaipur",
    ]));
    let docs: Vec<String> = (0..3)
        .map(|i| {
            let file = node.file(
                &format!("e{i}.pdf"),
                &pdf(80_000, &format!("{CONTENT} {i}")),
            );
            node.put(&child, "medical_report", &file)
        })
        .collect();
    run_ok(
        node.cmd()
            .args(["dept", "add"])
            .arg(common::bundles::repo("keys/br-swd-patna.json")),
    );
    let set = node.path("backups");
    let before = backup(&node, &set);

    // Who may erase: the CWC of the child's district, on an order; not the
    // shelter's staff, not the DCPU, not the CWC of another district.
    let token = |name: &str, role: &str, scope: &str| node.token(name, role, scope);
    for (name, role, scope) in [
        ("staff1", "shelter_staff", "institution:home-1"),
        ("dcpu1", "dcpu_officer", "district:rajasthan/jaipur"),
        ("cwc-other", "cwc_member", "district:rajasthan/ajmer"),
    ] {
        let t = token(name, role, scope);
        let out = node
            .cmd()
            .args([
                "--token", &t, "child", "erase", &child, "--reason", "r", "--order", "O/1",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{role} may not erase");
    }
    let cwc = token("cwc1", "cwc_member", "district:rajasthan/jaipur");
    let out = node
        .cmd()
        .args(["--token", &cwc, "child", "erase", &child, "--reason", "r"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "no order: refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--order"));
    let out = run_ok(node.cmd().args([
        "--token",
        &cwc,
        "child",
        "erase",
        &child,
        "--reason",
        "retention period over",
        "--order",
        "CWC/JPR/2026/88",
        "--json",
    ]));
    let erased: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(erased["documents"], 3);

    // Erased: unknown to every use case; ids and the audit trail remain.
    for args in [
        vec!["child", "show", child.as_str()],
        vec!["doc", "get", docs[0].as_str(), "-o", "-"],
        vec![
            "bundle",
            "create",
            child.as_str(),
            "--to",
            "br-swd-patna",
            "-o",
            "x.bundle",
        ],
        vec!["transfer", "create", child.as_str(), "--to", "br-swd-patna"],
    ] {
        let out = node.cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?} after erasure");
    }
    let log = std::fs::read_to_string(node.data.join("audit.log")).unwrap();
    assert!(log.contains("\"action\":\"erase_child\""));
    assert!(
        log.contains(&child),
        "the child's id stays in the audit trail"
    );
    run_ok(node.cmd().args(["audit", "verify"]));
    run_ok(node.cmd().args(["check"]));
    assert!(!readable(&node).contains(NAME) && !readable(&node).contains(CONTENT));

    // The backup taken before still holds the keys, and says so.
    let after = backup(&node, &set);
    let out = run_ok(node.cmd().args(["backup", "list", "--json"]).arg(&set));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["erased_keys"], 3, "{list}");
    assert_eq!(list[1]["erased_keys"], 0, "{list}");
    let old = restored(&node, &before, &store);
    let shown = readable(&old);
    assert!(
        shown.contains(NAME) && shown.contains(CONTENT),
        "until pruned, the old backup opens them"
    );

    // Pruned: found nowhere, even with the node's keys.
    run_ok(
        node.cmd()
            .args(["backup", "prune", "--keep", "1"])
            .arg(&set),
    );
    assert!(!before.exists());
    let new = restored(&node, &after, &store);
    let shown = readable(&new);
    assert!(!shown.contains(NAME) && !shown.contains(CONTENT));
    for d in &docs {
        let out = new
            .cmd()
            .args(["doc", "get", d, "-o", "-"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(!set
            .join("objects/documents")
            .join(format!("{d}.age"))
            .exists());
    }
    // No file anywhere holds them in clear either: the node, the set, the
    // store (on disk), the restored node.
    for dir in [&node.data, &set, &new.data] {
        for marker in [NAME, CONTENT] {
            assert!(
                files_containing(dir, marker.as_bytes()).is_empty(),
                "{marker} in {}",
                dir.display()
            );
        }
    }
    // The object store holds no payload of theirs.
    let stored = node.stored().join("\n");
    for d in &docs {
        assert!(!stored.contains(d.as_str()), "{d} still in the store");
    }
}
