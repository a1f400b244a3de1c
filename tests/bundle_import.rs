//! Import at the destination (all or nothing, once per bundle id) and the
//! receipt back at the source.

mod common;

use common::bundles::*;
use common::{created_id, run_ok, Node, Store};
use predicates::str::contains;

on_each_store!(
    import_receipt_and_delivery,
    bad_receipts_are_refused,
    import_is_all_or_nothing,
);

fn import(dst: &Node, bundle: &std::path::Path, receipt: &str) -> String {
    created_id(
        dst.cmd()
            .args(["bundle", "import"])
            .arg(bundle)
            .arg("--receipt")
            .arg(dst.path(receipt)),
    )
}

/// The source department's keys (published test keys).
fn source_keys() -> handover::crypto::NodeKeys {
    let files = handover::crypto::KeyFiles::new(&repo(&format!("fixtures/keys/{SOURCE}")));
    handover::crypto::NodeKeys::load(&files, || None).unwrap()
}

/// Rebuilds a bundle with entries changed by `edit`, the envelope's digests
/// updated and re-signed by the real source key: a bundle the source could
/// have made.
fn resigned(bundle: &[u8], edit: impl Fn(&mut Vec<(String, Vec<u8>)>)) -> Vec<u8> {
    use sha2::Digest;
    let mut e = entries(bundle);
    edit(&mut e);
    let mut env: serde_json::Value = serde_json::from_slice(&e[1].1).unwrap();
    for (i, listed) in env["entries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        let data = &e[3 + i].1;
        listed["size"] = data.len().into();
        listed["sha256"] = hex::encode(sha2::Sha256::digest(data)).into();
    }
    e[1].1 = serde_json::to_vec_pretty(&env).unwrap();
    e[2].1 = handover::crypto::sign(&source_keys(), &e[1].1).into_bytes();
    rebuild(&e)
}

fn import_receipt_and_delivery(store: Store) {
    let (src, dst) = two_nodes_on(&store);
    let (child, docs) = child_with(&src, "Test Child", &RESTORATION, 80_000);
    let bundle = create(&src, &child, "b.bundle", &[]);

    let imported = import(&dst, &bundle, "receipt.json");
    let show = dst
        .cmd()
        .args(["child", "show", &imported, "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(v["child"]["name"], "Test Child");
    assert_eq!(v["child"]["origin"]["source_department"], SOURCE);
    assert_eq!(v["child"]["origin"]["source_child_id"], child);
    assert_eq!(v["checklist"]["missing"], serde_json::json!([]));
    for (i, d) in v["documents"].as_array().unwrap().iter().enumerate() {
        let out = dst.path(&format!("got-{i}.pdf"));
        dst.cmd()
            .args(["doc", "get", d["id"].as_str().unwrap(), "-o"])
            .arg(&out)
            .assert()
            .success();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            docs[i],
            "document {i} byte for byte"
        );
        assert_eq!(d["kind"], RESTORATION[i]);
    }
    dst.cmd().args(["check"]).assert().success();

    // Stored as it arrived: the sealed file is the bundle's entry, not
    // re-encrypted; its header went to the database, the rest is the blob.
    let bytes = std::fs::read(&bundle).unwrap();
    let first = &entries(&bytes)[4].1;
    let doc_id = v["documents"][0]["id"].as_str().unwrap();
    let sealed = dst.path("sealed.age");
    common::run_ok(
        dst.cmd()
            .args(["doc", "get", doc_id, "--sealed", "-o"])
            .arg(&sealed),
    );
    assert_eq!(&std::fs::read(&sealed).unwrap(), first);
    let blob = dst.read_blob(doc_id);
    assert!(first.ends_with(&blob) && blob.len() < first.len());

    // A replay imports nothing new and returns the same child and receipt.
    let receipt = std::fs::read(dst.path("receipt.json")).unwrap();
    let again = import(&dst, &bundle, "receipt-again.json");
    assert_eq!(again, imported);
    assert_eq!(
        std::fs::read(dst.path("receipt-again.json")).unwrap(),
        receipt
    );
    let list = dst
        .cmd()
        .args(["child", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&list.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(dst.stored().len(), RESTORATION.len());

    // The receipt, back at the source.
    let r = src.file("receipt.json", &receipt);
    let out = run_ok(src.cmd().args(["receipt", "verify", "--json"]).arg(&r));
    assert!(String::from_utf8_lossy(&out.stderr).contains("recorded as delivered"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["destination"], DEST);
    assert_eq!(v["documents"].as_array().unwrap().len(), RESTORATION.len());
    src.cmd()
        .args(["receipt", "verify"])
        .arg(&r)
        .assert()
        .success()
        .stderr(contains("already recorded"));
}

fn bad_receipts_are_refused(store: Store) {
    let (src, dst) = two_nodes_on(&store);
    let (child, _) = child_with(&src, "Test Child", &["fir"], 1_000);
    let bundle = create(&src, &child, "b.bundle", &["--allow-incomplete", "test"]);
    import(&dst, &bundle, "receipt.json");
    let receipt = std::fs::read(dst.path("receipt.json")).unwrap();

    // Bad signature: the signature or the signed text changed.
    let sig = serde_json::from_slice::<serde_json::Value>(&receipt).unwrap()["signature"]
        .as_str()
        .unwrap()
        .to_string();
    // One base64 character inside the signature's body, and, separately,
    // its armour header.
    let mut lines: Vec<String> = sig.lines().map(str::to_string).collect();
    let swapped = if lines[1].as_bytes()[10] == b'A' {
        "B"
    } else {
        "A"
    };
    lines[1].replace_range(10..11, swapped);
    let body_changed = lines.join("\n") + "\n";
    let header_changed = sig.replacen("SIGNATURE", "SIGNATURF", 1);
    for (name, bad) in [
        ("bad-sig.json", body_changed),
        ("bad-armour.json", header_changed),
    ] {
        assert_ne!(bad, sig);
        let mut v: serde_json::Value = serde_json::from_slice(&receipt).unwrap();
        v["signature"] = bad.into();
        let f = src.file(name, v.to_string().as_bytes());
        src.cmd()
            .args(["receipt", "verify"])
            .arg(&f)
            .assert()
            .code(2)
            .stderr(contains("signature"));
    }
    let mut v: serde_json::Value = serde_json::from_slice(&receipt).unwrap();
    let text = v["receipt"].as_str().unwrap().to_string();
    v["receipt"] = text
        .replacen("documents/0001.age", "documents/0002.age", 1)
        .into();
    let f = src.file("bad-text.json", v.to_string().as_bytes());
    src.cmd()
        .args(["receipt", "verify"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(contains("signature"));
    src.cmd()
        .args(["receipt", "verify"])
        .arg(src.file("junk.json", b"{}"))
        .assert()
        .code(2);

    // A receipt for a bundle this node never sent: another node of the same
    // department made it.
    let other_src = demo_node(SOURCE, &[DEST]);
    let (c2, _) = child_with(&other_src, "Other Child", &["fir"], 1_000);
    let b2 = create(
        &other_src,
        &c2,
        "b2.bundle",
        &["--allow-incomplete", "test"],
    );
    import(&dst, &b2, "receipt2.json");
    let r2 = src.file(
        "receipt2.json",
        &std::fs::read(dst.path("receipt2.json")).unwrap(),
    );
    src.cmd()
        .args(["receipt", "verify"])
        .arg(&r2)
        .assert()
        .code(1)
        .stderr(contains("was sent from this node"));
}

fn import_is_all_or_nothing(store: Store) {
    let (src, dst) = two_nodes_on(&store);
    let (child, _) = child_with(
        &src,
        "Test Child",
        &["fir", "identity", "medical_report"],
        300_000,
    );
    let bundle = create(&src, &child, "b.bundle", &["--allow-incomplete", "test"]);
    let good = std::fs::read(&bundle).unwrap();

    // The source signed it, but its last document is encrypted to someone
    // else: verify passes, the import must fail and leave nothing.
    let bad = resigned(&good, |e| {
        let stranger = age::x25519::Identity::generate();
        let mut ct = Vec::new();
        handover::crypto::seal(&stranger.to_public(), &b"%PDF-1.4\nx\n%%EOF\n"[..], &mut ct)
            .unwrap();
        e.last_mut().unwrap().1 = ct;
    });
    let f = dst.file("bad.bundle", &bad);
    dst.cmd()
        .args(["bundle", "verify"])
        .arg(&f)
        .assert()
        .success();
    dst.cmd()
        .args(["bundle", "import"])
        .arg(&f)
        .arg("--receipt")
        .arg(dst.path("r.json"))
        .assert()
        .code(2)
        .stderr(contains("documents/0003.age cannot be decrypted"));
    assert!(!dst.path("r.json").exists());
    let list = dst
        .cmd()
        .args(["child", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(list.stdout, b"[]\n");
    assert!(dst.stored().is_empty(), "{:?}", dst.stored());
    dst.cmd().args(["check"]).assert().success();

    // The genuine bundle still imports afterwards.
    import(&dst, &bundle, "r.json");
    assert_eq!(dst.stored().len(), 3);

    // A different bundle carrying an already imported bundle id is refused.
    let same_id = resigned(&good, |e| {
        let mut env: serde_json::Value = serde_json::from_slice(&e[1].1).unwrap();
        env["created_at"] = "2026-01-01T00:00:00Z".into();
        e[1].1 = serde_json::to_vec_pretty(&env).unwrap();
    });
    let f = dst.file("same-id.bundle", &same_id);
    dst.cmd()
        .args(["bundle", "import"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(contains("a different bundle with id"));
    assert_eq!(dst.stored().len(), 3);
}
