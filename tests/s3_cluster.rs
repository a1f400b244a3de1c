//! A node on a three-node Garage cluster (replication factor 3) survives
//! the loss of one Garage node: uploads and downloads through the API go
//! on with no error, every digest holds, and after the node returns nothing
//! is lost and `check` is clean. Synthetic documents only.

mod common;

use std::time::Instant;

use common::garage::Cluster;
use common::server::{free_port, Server};
use common::{pdf, run_ok, Node, Store};
use serde_json::json;

/// Uploads one document; returns its id. Any answer but 201 fails the test.
fn upload(server: &Server, token: &str, child: &str, bytes: &[u8]) -> String {
    let r = server
        .post(token, &format!("/api/v1/children/{child}/documents"))
        .header("X-Handover-Kind", "medical_report")
        .body(bytes.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "upload: {}", r.text().unwrap_or_default());
    r.json::<serde_json::Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Downloads a document and compares it with what was sent.
fn download_matches(server: &Server, token: &str, id: &str, expect: &[u8]) {
    let r = server
        .get(token, &format!("/api/v1/documents/{id}/content"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "download of {id}");
    assert!(r.bytes().unwrap() == expect, "document {id} byte for byte");
}

#[test]
fn uploads_and_downloads_go_on_while_a_garage_node_is_lost() {
    let cluster = Cluster::start();
    let node = Node::uninitialised_on(Store::S3(cluster.bucket.clone()));
    let env = node.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = Server::start(&node.data, free_port(), common::DEPT, &env);
    let admin = server.admin();
    let staff = server.user(&admin, "staff", "shelter_staff", "institution:home-1");
    let child = server.create(
        &staff,
        "/api/v1/children",
        json!({"name": "Synthetic Child"}),
        201,
    );

    let mut stored: Vec<(String, Vec<u8>)> = Vec::new();
    let round = |stored: &mut Vec<(String, Vec<u8>)>, phase: &str| {
        let n = stored.len();
        // 1 to 9 MB: small ones in one part, large ones in several.
        let bytes = pdf(1_000_000 + (n % 5) * 2_000_000, &format!("{phase}-{n}"));
        let id = upload(&server, &staff, &child, &bytes);
        stored.push((id, bytes));
        let (old_id, old) = &stored[n / 2];
        download_matches(&server, &staff, old_id, old);
    };

    for _ in 0..6 {
        round(&mut stored, "all-up");
    }
    // Lose a node that is not the one the vault talks to.
    cluster.kill(2);
    let lost = Instant::now();
    for _ in 0..10 {
        round(&mut stored, "one-lost");
    }
    assert!(
        cluster.health()["storageNodesUp"] == 2,
        "{}",
        cluster.health()
    );
    eprintln!("10 rounds with a node lost took {:?}", lost.elapsed());

    cluster.restart(2);
    for _ in 0..4 {
        round(&mut stored, "back");
    }
    for (id, bytes) in &stored {
        download_matches(&server, &staff, id, bytes);
    }
    server.stop();

    // Nothing lost: every document verifies against its digest.
    let out = run_ok(node.cmd().args(["check", "--json"]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], stored.len(), "{report}");
    for list in [
        "missing",
        "corrupt",
        "orphaned",
        "interrupted",
        "incomplete_multipart",
    ] {
        assert_eq!(report[list], json!([]), "{list}: {report}");
    }
    assert_eq!(cluster.bucket.objects().len(), stored.len());
    assert_eq!(cluster.bucket.unfinished_multipart_uploads(), 0);
}
