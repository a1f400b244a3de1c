//! `handover blobs migrate --to URL`: a node on the local disk moves its
//! blobs to Garage while its server goes on serving, resumes where it was,
//! verifies every copy at the destination, switches, and is audited.
//! Synthetic documents only.

mod common;

use common::server::{free_port, Server};
use common::{created_id, pdf, run_ok, Node, Store};
use predicates::str::contains;

/// A disk node that can reach `bucket` (its S3 settings and credentials,
/// but not `blob_store`: the migration sets that).
fn node_beside(bucket: &common::garage::Bucket) -> (Node, Vec<(&'static str, String)>) {
    let node = Node::init();
    let env: Vec<_> = bucket
        .env()
        .into_iter()
        .filter(|(k, _)| *k != "HANDOVER_BLOB_STORE")
        .collect();
    (node, env)
}

fn put(node: &Node, env: &[(&str, String)], child: &str, bytes: &[u8], name: &str) -> String {
    let file = node.file(name, bytes);
    created_id(
        node.cmd()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["doc", "put", child, "--kind", "fir"])
            .arg(file),
    )
}

fn audit_actions(node: &Node) -> Vec<String> {
    common::audit_lines(&node.data)
        .iter()
        .filter_map(|v| v["action"].as_str().map(str::to_string))
        .collect()
}

fn upload(server: &Server, token: &str, child: &str, bytes: &[u8]) -> String {
    let r = server
        .post(token, &format!("/api/v1/children/{child}/documents"))
        .header("X-Handover-Kind", "fir")
        .body(bytes.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<serde_json::Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn migrate_to_garage_while_serving_then_switch() {
    let Store::S3(bucket) = Store::garage() else {
        unreachable!()
    };
    let node = Node::uninitialised();
    let env: Vec<_> = bucket
        .env()
        .into_iter()
        .filter(|(k, _)| *k != "HANDOVER_BLOB_STORE")
        .collect();
    let with_env = |cmd: &mut assert_cmd::Command| {
        cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    };
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = Server::start(&node.data, free_port(), common::DEPT, &env_refs);
    let admin = server.admin();
    let staff = server.user(&admin, "staff", "shelter_staff", "institution:home-1");
    let child = server.create(
        &staff,
        "/api/v1/children",
        serde_json::json!({"name": "Synthetic Child"}),
        201,
    );
    let mut docs = Vec::new();
    for i in 0..3 {
        let bytes = pdf(300_000 + i * 7_000_001, &format!("doc-{i}"));
        docs.push((upload(&server, &staff, &child, &bytes), bytes));
    }
    let to = format!("s3://{}", bucket.name);

    // With the server running, everything is copied and verified, but the
    // switch waits. Meanwhile the server goes on serving the papers.
    let mut migrate = node.cmd();
    with_env(&mut migrate);
    let migrating = std::thread::spawn(move || {
        migrate
            .args(["blobs", "migrate", "--to", &to])
            .output()
            .unwrap()
    });
    let mut reads = 0;
    while !migrating.is_finished() || reads < 3 {
        let (id, bytes) = &docs[reads % docs.len()];
        let r = server
            .get(&staff, &format!("/api/v1/documents/{id}/content"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "read during the migration");
        assert!(r.bytes().unwrap() == *bytes);
        reads += 1;
    }
    let out = migrating.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs the node to itself"), "{stderr}");
    assert!(stderr.contains("Stop `handover serve`"), "{stderr}");
    assert_eq!(bucket.objects().len(), 3, "every blob copied");
    let to = format!("s3://{}", bucket.name);

    // A document added after the first pass, and a copy lost at the
    // destination: the next run copies just those two.
    let late = pdf(123_456, "late");
    docs.push((upload(&server, &staff, &child, &late), late));
    server.stop();
    bucket.delete(&format!("documents/{}.age", docs[1].0));
    let mut migrate = node.cmd();
    with_env(&mut migrate);
    let out = run_ok(migrate.args(["blobs", "migrate", "--to", &to, "--json"]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["copied"], 2, "{report}");
    assert_eq!(report["already_there"], 2, "{report}");
    assert_eq!(report["switched"], true);
    let settings = std::fs::read_to_string(node.data.join("handover.toml")).unwrap();
    assert!(
        settings.contains(&format!("blob_store = \"{to}\"")),
        "{settings}"
    );

    // The node now reads from Garage only: the old blobs are moved aside
    // to prove it, and every document still comes back byte for byte.
    std::fs::rename(node.data.join("blobs"), node.data.join("blobs.old")).unwrap();
    for (id, bytes) in &docs {
        let out = node.path(&format!("{id}.out"));
        let mut get = node.cmd();
        with_env(&mut get);
        get.args(["doc", "get", id, "-o"])
            .arg(&out)
            .assert()
            .success();
        assert!(std::fs::read(&out).unwrap() == *bytes, "{id}");
    }
    let mut check = node.cmd();
    with_env(&mut check);
    let out = run_ok(check.args(["check", "--json"]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], 4, "{report}");
    assert_eq!(bucket.objects().len(), 4);

    // Audited: both copy runs and the switch.
    let actions = audit_actions(&node);
    assert_eq!(actions.iter().filter(|a| *a == "copy_blobs").count(), 2);
    assert_eq!(
        actions.iter().filter(|a| *a == "switch_blob_store").count(),
        1
    );

    // Once there, migrating to the same store is refused.
    let mut again = node.cmd();
    with_env(&mut again);
    again
        .args(["blobs", "migrate", "--to", &to])
        .assert()
        .code(1)
        .stderr(contains("already in that store"));
}

#[test]
fn a_copy_that_fails_its_digest_is_refused_and_nothing_switches() {
    let Store::S3(bucket) = Store::garage() else {
        unreachable!()
    };
    let (node, env) = node_beside(&bucket);
    let child = node.add_child("Test Child");
    let good = put(&node, &env, &child, &pdf(200_000, "good"), "good.pdf");
    let bad = put(&node, &env, &child, &pdf(200_000, "bad"), "bad.pdf");
    // Damage one stored blob on the disk: its copy cannot verify.
    let mut bytes = node.read_blob(&bad);
    let at = bytes.len() - 30;
    bytes[at] ^= 1;
    node.write_blob(&bad, &bytes);

    let mut migrate = node.cmd();
    migrate.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    migrate
        .args(["blobs", "migrate", "--to", &format!("s3://{}", bucket.name)])
        .assert()
        .code(2)
        .stderr(contains(format!("document {bad}")));
    // The bad copy is not left at the destination, the node stays on disk.
    assert!(!bucket.objects().contains(&format!("documents/{bad}.age")));
    assert!(!node.data.join("handover.toml").exists());
    assert!(!audit_actions(&node).contains(&"switch_blob_store".to_string()));
    node.cmd()
        .args(["doc", "get", &good, "-o"])
        .arg(node.path("good.out"))
        .assert()
        .success();
}
