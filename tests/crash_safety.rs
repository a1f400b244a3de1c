//! `kill -9` at any moment of `doc put` leaves a vault where the document
//! either fully exists or not at all; leftovers (staging files on disk,
//! unfinished multipart uploads on S3) are reported by `check`, removed by
//! `gc` and when the node is next opened. Each test runs on the local disk
//! and on Garage.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{run_ok, sha256_file, write_big_pdf, Node, Store};

fn spawn_put(node: &Node, child: &str, file: &std::path::Path) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("handover"))
        .arg("--data-dir")
        .arg(&node.data)
        .args(["doc", "put", child, "--kind", "medical_report"])
        .arg(file)
        .envs(node.env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Starts a put of `file` and kills it (SIGKILL) once its upload has begun.
fn kill_mid_upload(node: &Node, child: &str, file: &std::path::Path) {
    let mut put = spawn_put(node, child, file);
    let start = Instant::now();
    while node.leftovers() == 0 {
        assert!(
            put.try_wait().unwrap().is_none(),
            "put finished before it could be killed"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no upload started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    put.kill().unwrap();
    put.wait().unwrap();
}

on_each_store!(
    kill_during_a_large_put_then_check_and_gc,
    leftovers_are_removed_when_the_node_next_opens,
    kill_at_any_moment_leaves_all_or_nothing,
);

fn kill_during_a_large_put_then_check_and_gc(store: Store) {
    let on_s3 = matches!(store, Store::S3(_));
    let node = Node::init_on(store);
    let child = node.add_child("Test Child");
    let input = node.path("big.pdf");
    write_big_pdf(&input, 512 << 20);
    kill_mid_upload(&node, &child, &input);

    // check: consistent (exit 0), and it names the interrupted upload.
    let out = run_ok(node.cmd().args(["check", "--json"]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let named = if on_s3 {
        "incomplete_multipart"
    } else {
        "interrupted"
    };
    assert!(!report[named].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(report["verified"], 0);
    assert!(node.leftovers() > 0, "check removes nothing");

    let out = node.cmd().args(["gc", "--json"]).output().unwrap();
    assert!(out.status.success());
    let gc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(gc["interrupted"].as_u64().unwrap() >= 1);
    assert!(node.stored().is_empty(), "{:?}", node.stored());
    let out = node.cmd().args(["check", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["interrupted"], serde_json::json!([]));
    assert_eq!(report["incomplete_multipart"], serde_json::json!([]));
    assert!(node.doc_ids(&child).is_empty());
}

fn leftovers_are_removed_when_the_node_next_opens(store: Store) {
    let node = Node::init_on(store);
    let child = node.add_child("Test Child");
    let input = node.path("big.pdf");
    write_big_pdf(&input, 256 << 20);
    kill_mid_upload(&node, &child, &input);
    node.cmd().args(["child", "list"]).assert().success();
    assert!(node.stored().is_empty(), "{:?}", node.stored());
}

fn kill_at_any_moment_leaves_all_or_nothing(store: Store) {
    let node = Node::init_on(store);
    let child = node.add_child("Test Child");
    let input = node.path("mid.pdf");
    let digest = write_big_pdf(&input, 48 << 20);

    // How long an uninterrupted put takes, to spread the kills across it.
    let t0 = Instant::now();
    let mut put = spawn_put(&node, &child, &input);
    assert!(put.wait().unwrap().success());
    let full = t0.elapsed();
    let mut expected = 1;

    for step in 0..12u32 {
        let delay = full * step / 10;
        let mut put = spawn_put(&node, &child, &input);
        std::thread::sleep(delay);
        let _ = put.kill();
        let finished = put.wait().unwrap().success();
        let out = node.cmd().args(["check", "--json"]).output().unwrap();
        assert!(out.status.success(), "inconsistent after kill at {delay:?}");
        let ids = node.doc_ids(&child);
        assert!(
            ids.len() == expected || ids.len() == expected + 1,
            "{} documents after kill at {delay:?}",
            ids.len()
        );
        if finished {
            assert_eq!(ids.len(), expected + 1, "a finished put is a document");
        }
        expected = ids.len();
        let last = ids.last().unwrap();
        let out = node.path("got.pdf");
        node.cmd()
            .args(["doc", "get", last, "--force", "-o"])
            .arg(&out)
            .assert()
            .success();
        assert_eq!(sha256_file(&out), digest);
        // Every stored object belongs to a listed document.
        assert_eq!(node.stored().len(), ids.len(), "after kill at {delay:?}");
    }
}
