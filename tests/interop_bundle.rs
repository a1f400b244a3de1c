//! Stock tools check our bundles and receipts: `ssh-keygen -Y verify`
//! (namespace handover) with an allowed-signers line from the card, the
//! `age` command with the destination's identity, and `unzip -t`.

mod common;

use std::process::Command;

use common::bundles::*;
use common::have;

fn allowed_signers(dir: &std::path::Path, who: &str, card: &str) -> std::path::PathBuf {
    allowed_in(dir, who, card, "handover")
}

/// An allowed-signers file for `who` in `namespace`.
fn allowed_in(dir: &std::path::Path, who: &str, card: &str, namespace: &str) -> std::path::PathBuf {
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo(card)).unwrap()).unwrap();
    let key = card["ssh_public_key"].as_str().unwrap();
    let line = format!("{who} namespaces=\"{namespace}\" {key}\n");
    let path = dir.join(format!("{who}.{namespace}.allowed"));
    std::fs::write(&path, line).unwrap();
    path
}

fn ssh_verify(allowed: &std::path::Path, who: &str, sig: &std::path::Path, msg: &[u8]) -> bool {
    ssh_verify_in("handover", allowed, who, sig, msg)
}

/// `ssh-keygen -Y verify` in `namespace`.
fn ssh_verify_in(
    namespace: &str,
    allowed: &std::path::Path,
    who: &str,
    sig: &std::path::Path,
    msg: &[u8],
) -> bool {
    use std::io::Write;
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", namespace, "-I", who, "-f"])
        .arg(allowed)
        .arg("-s")
        .arg(sig)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(msg).unwrap();
    child.wait().unwrap().success()
}

#[test]
fn stock_tools_check_bundle_and_receipt() {
    assert!(
        have("ssh-keygen") && have("age") && have("unzip"),
        "needs openssh-client, age, unzip"
    );
    let (src, dst) = two_nodes();
    let (child, docs) = child_with(&src, "Test Child", &["fir", "identity"], 20_000);
    let bundle = create(&src, &child, "b.bundle", &["--allow-incomplete", "test"]);
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();

    // unzip -t accepts the bundle.
    let status = Command::new("unzip")
        .arg("-tq")
        .arg(&bundle)
        .status()
        .unwrap();
    assert!(status.success());

    // ssh-keygen -Y verify accepts the envelope's signature, and rejects it
    // after one byte of envelope.json changes.
    let e = entries(&std::fs::read(&bundle).unwrap());
    let sig = t.join("envelope.json.sig");
    std::fs::write(&sig, &e[2].1).unwrap();
    let allowed = allowed_signers(t, SOURCE, &format!("keys/{SOURCE}.json"));
    assert!(ssh_verify(&allowed, SOURCE, &sig, &e[1].1));
    let mut changed = e[1].1.clone();
    changed[10] ^= 0x01;
    assert!(!ssh_verify(&allowed, SOURCE, &sig, &changed));

    // ssh-keygen -Y sign with the source's (test) key writes byte for byte
    // our signature: Ed25519 is deterministic and the armour is the same.
    let key = t.join("source-key");
    std::fs::copy(repo(&format!("fixtures/keys/{SOURCE}/ssh-ed25519")), &key).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let envelope = t.join("stock-signed.json");
    std::fs::write(&envelope, &e[1].1).unwrap();
    let status = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "handover", "-f"])
        .arg(&key)
        .arg(&envelope)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read(t.join("stock-signed.json.sig")).unwrap(),
        e[2].1
    );

    // age decrypts the manifest and the first document with the destination identity.
    let identity = repo(&format!("fixtures/keys/{DEST}/age-identity.txt"));
    for (entry, check) in [(3usize, None), (4, Some(&docs[0]))] {
        let file = t.join(format!("entry{entry}.age"));
        std::fs::write(&file, &e[entry].1).unwrap();
        let out = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&identity)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        match check {
            Some(doc) => assert_eq!(&out.stdout, doc),
            None => {
                let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(m["format"], "handover-manifest/1");
            }
        }
    }

    // The receipt's signature verifies with ssh-keygen too.
    let receipt_path = dst.path("receipt.json");
    common::created_id(
        dst.cmd()
            .args(["bundle", "import"])
            .arg(&bundle)
            .arg("--receipt")
            .arg(&receipt_path),
    );
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&receipt_path).unwrap()).unwrap();
    let rsig = t.join("receipt.sig");
    std::fs::write(&rsig, r["signature"].as_str().unwrap()).unwrap();
    // Receipts are signed in their own namespace: ssh-keygen checks them
    // there, and never as an envelope signature (namespace `handover`).
    let text = r["receipt"].as_str().unwrap().as_bytes();
    let allowed = allowed_in(t, DEST, &format!("keys/{DEST}.json"), "handover-receipt");
    assert!(ssh_verify_in(
        "handover-receipt",
        &allowed,
        DEST,
        &rsig,
        text
    ));
    assert!(!ssh_verify_in(
        "handover-receipt",
        &allowed,
        DEST,
        &rsig,
        b"another text"
    ));
    let as_envelope = allowed_signers(t, DEST, &format!("keys/{DEST}.json"));
    assert!(!ssh_verify(&as_envelope, DEST, &rsig, text));

    // So are refusals, in theirs (the frozen refusal vector).
    let f: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo("fixtures/bundles/v1-padded.refusal.json")).unwrap(),
    )
    .unwrap();
    let fsig = t.join("refusal.sig");
    std::fs::write(&fsig, f["signature"].as_str().unwrap()).unwrap();
    let text = f["refusal"].as_str().unwrap().as_bytes();
    let allowed = allowed_in(t, DEST, &format!("keys/{DEST}.json"), "handover-refusal");
    assert!(ssh_verify_in(
        "handover-refusal",
        &allowed,
        DEST,
        &fsig,
        text
    ));
    let receipt_ns = allowed_in(t, DEST, &format!("keys/{DEST}.json"), "handover-receipt");
    assert!(!ssh_verify_in(
        "handover-receipt",
        &receipt_ns,
        DEST,
        &fsig,
        text
    ));

    // The stock check is weaker than the spec (docs/bundle-format.md §7):
    // ssh-keygen accepts the malleated-S vector, which handover refuses.
    let e = entries(&std::fs::read(repo("fixtures/bundles/refuse/sig-malleated.bundle")).unwrap());
    let msig = t.join("malleated.sig");
    std::fs::write(&msig, &e[2].1).unwrap();
    let allowed = allowed_signers(t, SOURCE, &format!("keys/{SOURCE}.json"));
    let stock_accepts = ssh_verify(&allowed, SOURCE, &msig, &e[1].1);
    let e_sha = entries(&std::fs::read(repo("fixtures/bundles/refuse/sig-sha256.bundle")).unwrap());
    let ssig = t.join("sha256.sig");
    std::fs::write(&ssig, &e_sha[2].1).unwrap();
    assert!(
        ssh_verify(&allowed, SOURCE, &ssig, &e_sha[1].1),
        "ssh-keygen accepts a sha256 signature"
    );
    assert!(stock_accepts, "ssh-keygen accepts a malleated S");
}

#[test]
fn bagit_validates_the_exported_bag() {
    assert!(have("bagit.py"), "needs bagit.py (pip install bagit)");
    let dst = demo_node(DEST, &[SOURCE]);
    let bag = dst.path("bag");
    dst.cmd()
        .args(["bundle", "export-bag"])
        .arg(repo("fixtures/bundles/v1.bundle"))
        .arg("--out")
        .arg(&bag)
        .assert()
        .success();
    let validate = |bag: &std::path::Path| {
        Command::new("bagit.py")
            .arg("--validate")
            .arg(bag)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(validate(&bag));
    let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    assert!(info.contains("Handover-Source-Department: rj-dcpu-jaipur"));
    assert!(info.contains("Handover-Destination-Department: br-swd-patna"));
    assert!(info.contains("Handover-Bundle-Id: "));
    // The validator notices a changed payload byte.
    let doc = bag.join("data/documents/0001.pdf");
    let mut bytes = std::fs::read(&doc).unwrap();
    bytes[3] ^= 1;
    std::fs::write(&doc, bytes).unwrap();
    assert!(!validate(&bag));
    // A bag is never written over an existing directory.
    dst.cmd()
        .args(["bundle", "export-bag"])
        .arg(repo("fixtures/bundles/v1.bundle"))
        .arg("--out")
        .arg(&bag)
        .assert()
        .code(1);
}
