//! Answers to a bundle at the source: a receipt is held to the source's own
//! record of what it sent (size and SHA-256 of every document); a receipt
//! for fewer documents is a partial delivery; a signed refusal moves the
//! transfer to `refused`, after which it can be sent again; and a bundle has
//! one answer. Also: a bundle holds at most 1,000 documents, and one more
//! is refused before anything is written.

mod common;

use std::io::Cursor;

use common::bundles::*;
use common::{created_id, pdf, run_ok, Node};
use handover::config::Settings;
use handover::domain::{DocKind, Principal};
use handover::vault::{NewDocument, Vault};
use predicates::str::contains;
use serde_json::{json, Value};

fn dest_keys() -> handover::crypto::NodeKeys {
    let files = handover::crypto::KeyFiles::new(&repo(&format!("fixtures/keys/{DEST}")));
    handover::crypto::NodeKeys::load(&files, || None).unwrap()
}

/// An answer file signed with the destination's (test) key, as another
/// implementation of the destination could write it.
fn forged_receipt(receipt: &Value) -> Vec<u8> {
    let text = serde_json::to_string_pretty(receipt).unwrap();
    let sig = handover::crypto::sign_in(&dest_keys(), "handover-receipt", text.as_bytes());
    serde_json::to_vec(&json!({"receipt": text, "signature": sig})).unwrap()
}

fn receipt_of(file: &std::path::Path) -> Value {
    let v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    serde_json::from_str(v["receipt"].as_str().unwrap()).unwrap()
}

/// A transfer of a child with two documents, approved and sent as a file.
fn sent_transfer(src: &Node) -> (String, std::path::PathBuf) {
    let child = created_id(
        src.cmd()
            .args(["child", "add", "--name", "Zqxmarker Answers"]),
    );
    for kind in ["fir", "medical_report"] {
        let f = src.file(&format!("{kind}.pdf"), &pdf(3_000, kind));
        created_id(
            src.cmd()
                .args(["doc", "put", &child, "--kind", kind])
                .arg(&f),
        );
    }
    let t = created_id(src.cmd().args(["transfer", "create", &child, "--to", DEST]));
    run_ok(
        src.cmd()
            .args(["transfer", "submit", &t, "--override", "papers follow"]),
    );
    run_ok(
        src.cmd()
            .args(["transfer", "approve", &t, "--order", "RO/9"]),
    );
    let bundle = src.path(&format!("{t}.bundle"));
    run_ok(src.cmd().args(["transfer", "send", &t, "-o"]).arg(&bundle));
    (t, bundle)
}

fn transfer(src: &Node, t: &str) -> Value {
    serde_json::from_slice(&run_ok(src.cmd().args(["transfer", "show", t, "--json"])).stdout)
        .unwrap()
}

#[test]
fn a_receipt_that_differs_from_what_was_sent_is_refused_and_records_nothing() {
    let (src, dst) = two_nodes();
    let (t, bundle) = sent_transfer(&src);
    let receipt = dst.path("receipt.json");
    run_ok(
        dst.cmd()
            .args(["bundle", "import"])
            .arg(&bundle)
            .arg("--receipt")
            .arg(&receipt),
    );
    let genuine = receipt_of(&receipt);
    assert_eq!(genuine["format"], "handover-receipt/2");

    let mut wrong_sha = genuine.clone();
    wrong_sha["documents"][0]["sha256"] = "ab".repeat(32).into();
    let mut wrong_size = genuine.clone();
    wrong_size["documents"][1]["size"] = 1.into();
    let mut not_sent = genuine.clone();
    not_sent["documents"][1]["path"] = "documents/0003.age".into();
    let mut other_envelope = genuine.clone();
    other_envelope["envelope_sha256"] = "cd".repeat(32).into();
    for (name, r, why) in [
        ("sha", &wrong_sha, "a document's size or SHA-256"),
        ("size", &wrong_size, "a document's size or SHA-256"),
        ("path", &not_sent, "a document that was not sent"),
        ("envelope", &other_envelope, "another envelope"),
    ] {
        let f = src.file(&format!("{name}.json"), &forged_receipt(r));
        src.cmd()
            .args(["receipt", "verify"])
            .arg(&f)
            .assert()
            .code(2)
            .stderr(contains("does not match bundle"))
            .stderr(contains(why));
        assert_eq!(
            transfer(&src, &t)["state"],
            "sent",
            "{name}: nothing recorded"
        );
    }
    // The genuine receipt still delivers it.
    run_ok(src.cmd().args(["receipt", "verify"]).arg(&receipt));
    assert_eq!(transfer(&src, &t)["state"], "delivered");
    // A second, different answer is refused; the same one again changes nothing.
    let mut second = genuine.clone();
    second["received_at"] = "2026-12-02T08:00:00Z".into();
    let f = src.file("second.json", &forged_receipt(&second));
    src.cmd()
        .args(["receipt", "verify"])
        .arg(&f)
        .assert()
        .code(1)
        .stderr(contains("already has an answer (delivered)"));
    src.cmd()
        .args(["receipt", "verify"])
        .arg(&receipt)
        .assert()
        .success()
        .stderr(contains("already recorded as delivered"));
}

#[test]
fn a_receipt_for_fewer_documents_is_a_partial_delivery_naming_what_arrived() {
    let (src, dst) = two_nodes();
    let (t, bundle) = sent_transfer(&src);
    let receipt = dst.path("receipt.json");
    run_ok(
        dst.cmd()
            .args(["bundle", "import"])
            .arg(&bundle)
            .arg("--receipt")
            .arg(&receipt),
    );
    let mut partial = receipt_of(&receipt);
    partial["documents"].as_array_mut().unwrap().remove(0);
    let f = src.file("partial.json", &forged_receipt(&partial));
    let out = run_ok(src.cmd().args(["receipt", "verify", "--json"]).arg(&f));
    assert!(String::from_utf8_lossy(&out.stderr).contains("recorded as partially delivered"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "partially_delivered");
    assert_eq!(v["missing"], json!(["documents/0001.age"]));
    assert_eq!(v["documents"][0]["path"], "documents/0002.age");
    let tr = transfer(&src, &t);
    assert_eq!(tr["state"], "partially_delivered");
    // The full receipt afterwards is a second answer: refused.
    src.cmd()
        .args(["receipt", "verify"])
        .arg(&receipt)
        .assert()
        .code(1)
        .stderr(contains("already has an answer (partially_delivered)"));
}

#[test]
fn a_signed_refusal_moves_the_transfer_to_refused_and_it_can_be_sent_again() {
    let (src, dst) = two_nodes();
    let (t, bundle) = sent_transfer(&src);
    // A reason is required.
    dst.cmd()
        .args(["bundle", "refuse"])
        .arg(&bundle)
        .args(["--reason", "  "])
        .assert()
        .code(1)
        .stderr(contains("needs a reason"));
    let refusal = dst.path("refusal.json");
    let out = run_ok(
        dst.cmd()
            .args(["bundle", "refuse"])
            .arg(&bundle)
            .args([
                "--reason",
                "the medical report is unreadable; please rescan",
            ])
            .arg("--refusal")
            .arg(&refusal),
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&refusal).unwrap()).unwrap();
    let text: Value = serde_json::from_str(v["refusal"].as_str().unwrap()).unwrap();
    assert_eq!(text["format"], "handover-refusal/1");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        text["bundle_id"].as_str().unwrap()
    );
    // Refused there: nothing imported, and it cannot be imported now.
    assert!(dst.blob_files().is_empty());
    dst.cmd()
        .args(["bundle", "import"])
        .arg(&bundle)
        .assert()
        .code(1)
        .stderr(contains("was refused on this node"));
    assert!(dst.blob_files().is_empty());

    // Back at the source.
    src.cmd()
        .args(["receipt", "verify"])
        .arg(&refusal)
        .assert()
        .success()
        .stderr(contains(
            "refusal verified; the hand-over is recorded as refused",
        ));
    let tr = transfer(&src, &t);
    assert_eq!(tr["state"], "refused");
    let last = tr["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["step"], "refuse");
    assert_eq!(
        last["reason"],
        "the medical report is unreadable; please rescan"
    );
    // A receipt for the same bundle is a second answer.
    let receipt = json!({
        "format": "handover-receipt/2", "bundle_id": text["bundle_id"],
        "envelope_sha256": text["envelope_sha256"], "source": SOURCE, "destination": DEST,
        "received_at": "2026-12-02T08:00:00Z", "documents": []
    });
    let f = src.file("late-receipt.json", &forged_receipt(&receipt));
    src.cmd()
        .args(["receipt", "verify"])
        .arg(&f)
        .assert()
        .code(1)
        .stderr(contains("already has an answer (refused)"));

    // The sender fixes the papers and sends a new bundle.
    let again = src.path("again.bundle");
    run_ok(src.cmd().args(["transfer", "send", &t, "-o"]).arg(&again));
    let tr = transfer(&src, &t);
    assert_eq!(tr["state"], "sent");
    assert_ne!(tr["bundle_id"], text["bundle_id"]);
    let receipt = dst.path("receipt.json");
    run_ok(
        dst.cmd()
            .args(["bundle", "import"])
            .arg(&again)
            .arg("--receipt")
            .arg(&receipt),
    );
    run_ok(src.cmd().args(["receipt", "verify"]).arg(&receipt));
    assert_eq!(transfer(&src, &t)["state"], "delivered");
}

#[test]
fn a_bundle_of_the_most_documents_is_made_and_one_more_is_refused_before_writing() {
    let src = demo_node(SOURCE, &[DEST]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let child = rt.block_on(async {
        let settings = Settings {
            data_dir: src.data.clone(),
            ..Settings::default()
        };
        let vault = Vault::open(settings, || None, false).await.unwrap();
        let child = vault
            .add_child(
                &Principal::LocalOperator,
                handover::domain::CaseRecord {
                    name: "Zqxmarker Many".into(),
                    ..Default::default()
                },
            )
            .unwrap();
        let bytes = pdf(300, "many");
        for _ in 0..handover::bundle::MAX_DOCUMENTS {
            vault
                .put_document(
                    &Principal::LocalOperator,
                    child,
                    NewDocument {
                        kind: DocKind::Fir,
                        title: None,
                        file_name: None,
                        declared_size: Some(bytes.len() as u64),
                    },
                    Box::new(Cursor::new(bytes.clone())),
                )
                .await
                .unwrap();
        }
        child
    });
    let child = child.to_string();
    let out = create(&src, &child, "most.bundle", &["--allow-incomplete", "test"]);
    let manifest = {
        let dst = demo_node(DEST, &[SOURCE]);
        let v = run_ok(dst.cmd().args(["bundle", "verify", "--json"]).arg(&out));
        serde_json::from_slice::<Value>(&v.stdout).unwrap()
    };
    assert_eq!(manifest["documents"], 1000);

    let f = src.file("one-more.pdf", &pdf(300, "many"));
    created_id(
        src.cmd()
            .args(["doc", "put", &child, "--kind", "fir"])
            .arg(&f),
    );
    let past = src.path("past.bundle");
    src.cmd()
        .args(["bundle", "create", &child, "--to", DEST, "-o"])
        .arg(&past)
        .args(["--allow-incomplete", "test"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains("a bundle holds at most 1000 documents"));
    assert!(!past.exists());
    assert!(!src.path("past.bundle.partial").exists());
}
