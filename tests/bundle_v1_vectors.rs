//! Version 1 is frozen: the bundle and receipt in fixtures/bundles/, made
//! with the test keys, still verify, open and import with today's code.

mod common;

use common::bundles::*;
use common::{created_id, run_ok};

const FIR_SHA256: &str = "6f40d1a2f2c5d9bbc60b02011688f812f3ded6038213bf350220ad9842c06587";
const NOTE_SHA256: &str = "9d77de311aa833a645649607dc9a08bdf88d8e34be176b3d669a3f639b144a8a";

#[test]
fn the_v1_bundle_still_verifies_opens_and_imports() {
    let bundle = repo("fixtures/bundles/v1.bundle");
    let manifest = open_in_process(&bundle).unwrap();
    assert_eq!(manifest.format, "handover-manifest/1");
    assert_eq!(manifest.child.name, "Synthetic Test Child");
    assert_eq!(manifest.child.home_district.as_deref(), Some("Gaya"));
    assert_eq!(
        manifest.incomplete_reason.as_deref(),
        Some("test vector: synthetic papers only")
    );
    let digests: Vec<_> = manifest
        .documents
        .iter()
        .map(|d| d.sha256.as_str())
        .collect();
    assert_eq!(digests, [FIR_SHA256, NOTE_SHA256]);
    assert_eq!(manifest.documents[1].title.as_deref(), Some("Test note"));

    let dst = demo_node(DEST, &[SOURCE]);
    let out = run_ok(dst.cmd().args(["bundle", "verify", "--json"]).arg(&bundle));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["source"], SOURCE);
    assert_eq!(summary["destination"], DEST);
    assert_eq!(summary["documents"], 2);
    let opened = dst.path("opened");
    dst.cmd()
        .args(["bundle", "open"])
        .arg(&bundle)
        .arg("--out")
        .arg(&opened)
        .assert()
        .success();
    assert_eq!(
        common::sha256_file(&opened.join("documents/0001.pdf")),
        FIR_SHA256
    );
    assert_eq!(
        common::sha256_file(&opened.join("documents/0002.txt")),
        NOTE_SHA256
    );
    let child = created_id(dst.cmd().args(["bundle", "import"]).arg(&bundle));
    assert_eq!(dst.doc_ids(&child).len(), 2);
}

#[test]
fn the_v1_receipt_still_verifies() {
    let bundle = repo("fixtures/bundles/v1.bundle");
    let dir = directory();
    let mut reader = handover::bundle::BundleReader::open(&bundle).unwrap();
    let verified = reader.verify(|id| dir.card(id)).unwrap();
    let bytes = std::fs::read(repo("fixtures/bundles/v1.receipt.json")).unwrap();
    let signed = handover::bundle::SignedAnswer::parse(&bytes).unwrap();
    let handover::bundle::Answer::Receipt(receipt) = signed.verify(|id| dir.card(id)).unwrap()
    else {
        panic!("the v1 receipt is a receipt");
    };
    assert_eq!(receipt.format, "handover-receipt/1");
    assert_eq!(receipt.bundle_id, verified.envelope.bundle_id);
    assert_eq!(receipt.envelope_sha256, verified.envelope_sha256);
    assert_eq!(receipt.source, SOURCE);
    assert_eq!(receipt.destination, DEST);
    let accepted: Vec<_> = receipt
        .documents
        .iter()
        .map(|d| d.sha256.as_str())
        .collect();
    assert_eq!(accepted, [FIR_SHA256, NOTE_SHA256]);
}
