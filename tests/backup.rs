//! `handover backup`, `backup verify|list|prune` and `handover restore`
//! against real nodes, on the local disk and on Garage: a backup taken
//! while uploads and a bundle import run restores to a consistent node; a
//! kill during a backup leaves the previous one usable; a flipped byte
//! anywhere fails verification and is never restored. Synthetic data only.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use age::secrecy::ExposeSecret;
use common::bundles::{child_with, create, two_nodes_on};
use common::{have, pdf, run_ok, Node, Store};
use serde_json::Value;

/// Every document of a node: id → plaintext SHA-256.
fn all_docs(node: &Node) -> BTreeMap<String, String> {
    let out = run_ok(node.cmd().args(["child", "list", "--json"]));
    let children: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut docs = BTreeMap::new();
    for child in children.as_array().unwrap() {
        let id = child["id"].as_str().unwrap();
        let out = run_ok(node.cmd().args(["doc", "list", id, "--json"]));
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        for d in list.as_array().unwrap() {
            docs.insert(
                d["id"].as_str().unwrap().to_string(),
                d["sha256"].as_str().unwrap().to_string(),
            );
        }
    }
    docs
}

fn spawn(node: &Node, args: &[&str], file: Option<&Path>) -> Child {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("handover"));
    cmd.arg("--data-dir").arg(&node.data).args(args);
    if let Some(f) = file {
        cmd.arg(f);
    }
    cmd.envs(node.env())
        .env_remove("HANDOVER_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Takes a backup of `node` into `set`; returns the backup's directory.
fn backup(node: &Node, set: &Path) -> PathBuf {
    let out = run_ok(node.cmd().arg("backup").arg("--to").arg(set));
    PathBuf::from(common::stdout_line(&out.stdout))
}

/// `check --json` of a node, asserting it is consistent and holds
/// nothing half-done.
fn clean_check(node: &Node) -> Value {
    let out = run_ok(node.cmd().args(["check", "--json"]));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    for list in [
        "missing",
        "corrupt",
        "orphaned",
        "interrupted",
        "incomplete_multipart",
        "broken_uploads",
    ] {
        assert_eq!(report[list], serde_json::json!([]), "{list}: {report}");
    }
    assert_eq!(report["staged_uploads"], 0, "{report}");
    report
}

on_each_store!(
    a_backup_taken_while_uploads_and_an_import_run_restores_whole,
    a_flipped_byte_fails_verify_and_is_never_restored,
    a_backup_set_in_a_bucket_is_incremental_verified_pruned_and_restored,
);

fn a_backup_taken_while_uploads_and_an_import_run_restores_whole(store: Store) {
    let (src, dst) = two_nodes_on(&store);
    let (bundled, _) = child_with(
        &src,
        "Synthetic Bundled Child",
        &["fir", "medical_report"],
        400_000,
    );
    let bundle = create(
        &src,
        &bundled,
        "b.bundle",
        &["--allow-incomplete", "test: papers follow"],
    );
    let child = dst.add_child("Synthetic Restored Child");
    let first = dst.file("first.pdf", &pdf(300_000, "first"));
    dst.put(&child, "fir", &first);
    let files: Vec<PathBuf> = (0..20)
        .map(|i| {
            dst.file(
                &format!("scan-{i}.pdf"),
                &pdf(200_000 + i * 1_500_000, &format!("scan {i}")),
            )
        })
        .collect();
    let before = all_docs(&dst);

    // 20 uploads and an import in flight, and a backup in the middle.
    let mut running: Vec<Child> = files
        .iter()
        .map(|f| {
            spawn(
                &dst,
                &["doc", "put", &child, "--kind", "medical_report"],
                Some(f),
            )
        })
        .collect();
    running.push(spawn(&dst, &["bundle", "import"], Some(&bundle)));
    // Some uploads have committed, the larger ones have not.
    common::server::wait_for(60, "a first upload to commit", || {
        (dst.doc_ids(&child).len() > 1).then_some(())
    });
    let set = dst.path("backups");
    let taken = backup(&dst, &set);
    for mut p in running {
        let out = p.wait().unwrap();
        assert!(out.success(), "an upload or the import failed");
    }
    let after = all_docs(&dst);
    assert_eq!(after.len(), before.len() + 20 + 2);

    run_ok(dst.cmd().args(["backup", "verify"]).arg(&set));
    let restored = Node::uninitialised_on(store.fresh());
    run_ok(
        restored
            .cmd()
            .arg("restore")
            .arg("--from")
            .arg(&taken)
            .arg("--keys")
            .arg(&dst.data),
    );
    let report = clean_check(&restored);
    let got = all_docs(&restored);
    eprintln!(
        "the backup holds {} of the {} documents added while it ran",
        got.len() - before.len(),
        after.len() - before.len()
    );
    assert!(
        got.len() > before.len(),
        "uploads that committed before the snapshot"
    );
    assert_eq!(report["verified"].as_u64().unwrap() as usize, got.len());
    // What was committed before the backup began is there; nothing that
    // was never committed is; each with its digest.
    for (id, sha) in &before {
        assert_eq!(
            got.get(id),
            Some(sha),
            "document {id} committed before the backup"
        );
    }
    for (id, sha) in &got {
        assert_eq!(
            after.get(id),
            Some(sha),
            "document {id} is not the original's"
        );
    }
    // The bundle's import is whole or absent.
    let out = run_ok(restored.cmd().args(["child", "list", "--json"]));
    let children: Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in children.as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        if id != child {
            let n = restored.doc_ids(id).len();
            assert_eq!(n, 2, "an imported child has all of its documents");
        }
    }
    run_ok(restored.cmd().args(["audit", "verify"]));
    // The restored node serves.
    let mut server = common::server::Server::start(
        &restored.data,
        common::server::free_port(),
        common::bundles::DEST,
        &restored
            .env()
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    );
    let r = common::server::client()
        .get(server.url("/healthz"))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    server.stop();
}

fn flip(path: &Path, at: u64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 0x01]).unwrap();
}

fn a_flipped_byte_fails_verify_and_is_never_restored(store: Store) {
    let node = Node::init_on(store.clone());
    let child = node.add_child("Synthetic Flipped Child");
    let doc = node.put(&child, "fir", &node.file("a.pdf", &pdf(200_000, "flip")));
    let set = node.path("backups");
    let taken = backup(&node, &set);
    let id = taken.file_name().unwrap().to_str().unwrap().to_string();
    let object = set.join("objects/documents").join(format!("{doc}.age"));
    for (victim, at) in [
        (object.clone(), 150_000),
        (object.clone(), 40),
        (taken.join("meta.db"), 5000),
        (taken.join("audit.log"), 30),
        (taken.join("card.json"), 12),
        (taken.join("manifest.json"), 40),
        (taken.join("manifest.json.sig"), 100),
    ] {
        flip(&victim, at);
        let out = node
            .cmd()
            .args(["backup", "verify"])
            .arg(&set)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{} flipped: verify must fail",
            victim.display()
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&id) || err.contains("card"), "{err}");
        let target = Node::uninitialised_on(store.fresh());
        let out = target
            .cmd()
            .arg("restore")
            .arg("--from")
            .arg(&set)
            .arg("--keys")
            .arg(&node.data)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{} flipped: restore must refuse",
            victim.display()
        );
        assert!(!target.data.exists(), "a refused restore leaves nothing");
        assert!(
            target.stored().is_empty(),
            "a refused restore writes no blob"
        );
        flip(&victim, at);
    }
    run_ok(node.cmd().args(["backup", "verify"]).arg(&set));
}

#[test]
fn a_kill_during_a_backup_leaves_the_previous_one_usable() {
    let node = Node::init();
    let child = node.add_child("Synthetic Killed Child");
    let first = node.put(&child, "fir", &node.file("a.pdf", &pdf(100_000, "one")));
    let set = node.path("backups");
    let previous = backup(&node, &set);
    for i in 0..6 {
        let big = node.path(&format!("big-{i}.pdf"));
        common::write_big_pdf(&big, 48 << 20);
        node.put(&child, "medical_report", &big);
    }
    let mut killed = spawn(&node, &["backup", "--to", set.to_str().unwrap()], None);
    let start = Instant::now();
    let partial = || {
        std::fs::read_dir(set.join("objects/documents"))
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".partial-"))
            })
            .unwrap_or(false)
    };
    while !partial() {
        assert!(
            killed.try_wait().unwrap().is_none(),
            "the backup ended before the kill"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no object being copied"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    killed.kill().unwrap();
    killed.wait().unwrap();

    // The previous backup verifies, is the only one listed, and restores.
    let out = run_ok(node.cmd().args(["backup", "list", "--json"]).arg(&set));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        listed[0]["path"].as_str().unwrap(),
        previous.to_str().unwrap()
    );
    run_ok(node.cmd().args(["backup", "verify"]).arg(&set));
    let restored = Node::uninitialised();
    run_ok(
        restored
            .cmd()
            .arg("restore")
            .arg("--from")
            .arg(&set)
            .arg("--keys")
            .arg(&node.data),
    );
    clean_check(&restored);
    assert_eq!(
        all_docs(&restored).keys().cloned().collect::<Vec<_>>(),
        vec![first]
    );

    // The next backup clears what the killed one left, and is whole.
    let next = backup(&node, &set);
    let leftovers: Vec<_> = common::files_under(&set)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let out = run_ok(node.cmd().args(["backup", "verify", "--json"]).arg(&next));
    let verified: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verified[0]["documents"], 7);
}

#[test]
fn backups_are_incremental_pruned_and_keys_go_only_to_the_recovery_recipient() {
    let node = Node::init();
    let child = node.add_child("Synthetic Pruned Child");
    node.put(&child, "fir", &node.file("a.pdf", &pdf(100_000, "one")));
    let set = node.path("backups");
    let recovery = age::x25519::Identity::generate();
    let identity_file = node.file(
        "recovery.txt",
        recovery.to_string().expose_secret().as_bytes(),
    );
    let recipient = recovery.to_public().to_string();
    // Without --include-keys no key is copied; with it, each key file is
    // an age file for the recovery recipient.
    let keyless = backup(&node, &set);
    assert!(!keyless.join("keys").exists());
    node.put(&child, "fir", &node.file("b.pdf", &pdf(100_000, "two")));
    let out = run_ok(
        node.cmd()
            .args([
                "backup",
                "--json",
                "--include-keys",
                "--recovery-recipient",
                &recipient,
                "--to",
            ])
            .arg(&set),
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["objects_copied"], 1,
        "only the new document is copied"
    );
    assert_eq!(report["objects_kept"], 1);
    let with_keys = PathBuf::from(report["path"].as_str().unwrap());
    let identity = std::fs::read(node.data.join("age-identity.txt")).unwrap();
    for entry in std::fs::read_dir(with_keys.join("keys")).unwrap() {
        let sealed = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(sealed.starts_with(b"age-encryption.org/v1"));
        assert!(!sealed
            .windows(16)
            .any(|w| identity.windows(16).any(|i| i == w)));
    }
    // Restoring needs a way to the keys; a keyless backup has none inside.
    let target = Node::uninitialised();
    let out = target
        .cmd()
        .args(["restore", "--from"])
        .arg(&keyless)
        .arg("--recovery-identity")
        .arg(&identity_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no keys"));
    assert!(!target.data.exists());
    // A wrong recovery identity opens nothing.
    let wrong = node.file(
        "wrong.txt",
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .as_bytes(),
    );
    let out = target
        .cmd()
        .args(["restore", "--from"])
        .arg(&with_keys)
        .arg("--recovery-identity")
        .arg(&wrong)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!target.data.exists());
    // The right one restores the node, keys and all.
    run_ok(
        target
            .cmd()
            .args(["restore", "--from"])
            .arg(&set)
            .arg("--recovery-identity")
            .arg(&identity_file),
    );
    assert_eq!(clean_check(&target)["verified"], 2);
    // Not into a directory that holds anything.
    let out = target
        .cmd()
        .args(["restore", "--from"])
        .arg(&set)
        .arg("--recovery-identity")
        .arg(&identity_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(
        clean_check(&target)["verified"],
        2,
        "the node there is untouched"
    );

    // Prune keeps the newest N and what they list.
    backup(&node, &set);
    let out = run_ok(
        node.cmd()
            .args(["backup", "prune", "--keep", "2", "--json"])
            .arg(&set),
    );
    let pruned: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        pruned["removed"][0],
        keyless.file_name().unwrap().to_str().unwrap()
    );
    assert!(!keyless.exists());
    let out = run_ok(node.cmd().args(["backup", "list", "--json"]).arg(&set));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    run_ok(node.cmd().args(["backup", "verify"]).arg(&set));
    let out = node
        .cmd()
        .args(["backup", "prune", "--keep", "0"])
        .arg(&set)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Each step is in the node's audit log.
    let log = std::fs::read_to_string(node.data.join("audit.log")).unwrap();
    assert_eq!(log.matches("\"action\":\"backup\"").count(), 3);
    assert_eq!(log.matches("\"action\":\"backup-prune\"").count(), 1);
}

#[test]
fn stock_tools_check_a_backup() {
    assert!(
        have("ssh-keygen") && have("age"),
        "ssh-keygen and age are needed"
    );
    let node = Node::init();
    let child = node.add_child("Synthetic Stock Child");
    let bytes = pdf(50_000, "stock");
    let doc = node.put(&child, "fir", &node.file("a.pdf", &bytes));
    let taken = backup(&node, &node.path("backups"));
    // The manifest's signature, with ssh-keygen and the card's key.
    let card: Value =
        serde_json::from_slice(&std::fs::read(node.data.join("card.json")).unwrap()).unwrap();
    let allowed = node.file(
        "allowed_signers",
        format!(
            "{} {}\n",
            common::DEPT,
            card["ssh_public_key"].as_str().unwrap()
        )
        .as_bytes(),
    );
    let out = std::process::Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(&allowed)
        .args(["-I", common::DEPT, "-n", "handover-backup", "-s"])
        .arg(taken.join("manifest.json.sig"))
        .stdin(std::fs::File::open(taken.join("manifest.json")).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An object is the document's age payload: its header (the wrapped
    // file key) is only in the node's database, so stock age opens the
    // object only with the header before it (`vault/erasure.rs` tests it),
    // never alone, whatever key it is given.
    let out = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(node.data.join("age-identity.txt"))
        .arg(
            node.path("backups/objects/documents")
                .join(format!("{doc}.age")),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no plaintext comes out");
    let object = std::fs::read(
        node.path("backups/objects/documents")
            .join(format!("{doc}.age")),
    )
    .unwrap();
    assert!(
        !object.starts_with(b"age-encryption.org"),
        "no header in the object"
    );
}

/// `cmd` with the S3 endpoint and credentials of `bucket` (not its blob
/// store setting: the node keeps its own store).
fn with_s3(mut cmd: assert_cmd::Command, bucket: &common::garage::Bucket) -> assert_cmd::Command {
    for (k, v) in bucket.env() {
        if k != "HANDOVER_BLOB_STORE" {
            cmd.env(k, v);
        }
    }
    cmd
}

fn a_backup_set_in_a_bucket_is_incremental_verified_pruned_and_restored(store: Store) {
    let node = Node::init_on(store.clone());
    let Store::S3(bucket) = Store::garage() else {
        unreachable!()
    };
    let set = format!("s3://{}/sets/test-dcpu", bucket.name);
    let child = node.add_child("Synthetic Bucket Child");
    node.put(
        &child,
        "fir",
        &node.file("a.pdf", &pdf(200_000, "bucket-one")),
    );
    node.put(
        &child,
        "identity",
        &node.file("b.pdf", &pdf(50_000, "bucket-two")),
    );
    let recovery = age::x25519::Identity::generate();
    let identity_file = node.file(
        "recovery.txt",
        recovery.to_string().expose_secret().as_bytes(),
    );
    let recipient = recovery.to_public().to_string();
    let take = |node: &Node| -> Value {
        let out = run_ok(
            with_s3(node.cmd(), &bucket)
                .args(["backup", "--json", "--include-keys", "--recovery-recipient"])
                .arg(&recipient)
                .arg("--to")
                .arg(&set),
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = take(&node);
    assert_eq!(first["objects_copied"], 2);
    let first_id = first["id"].as_str().unwrap().to_string();
    assert_eq!(first["path"], format!("{set}/{first_id}"));
    // Every object went to the bucket, under the prefix; nothing was left
    // in the data directory's staging.
    let objects = bucket.objects();
    assert!(
        objects.iter().all(|k| k.starts_with("sets/test-dcpu/")),
        "{objects:?}"
    );
    assert!(objects
        .iter()
        .any(|k| k.ends_with(&format!("{first_id}/manifest.json.sig"))));
    assert_eq!(
        common::files_under(&node.data.join("backup-staging")).len(),
        1,
        "only the set's lock file stays in the staging directory"
    );
    // A backup cut off before its signature is not a backup, and the next
    // backup removes it.
    bucket.write("sets/test-dcpu/20260101T000000000Z/meta.db", b"cut off");
    node.put(
        &child,
        "care_plan",
        &node.file("c.pdf", &pdf(60_000, "bucket-three")),
    );
    let second = take(&node);
    assert_eq!(second["objects_copied"], 1, "only the new document");
    assert_eq!(second["objects_kept"], 2);
    assert!(!bucket
        .objects()
        .iter()
        .any(|k| k.contains("20260101T000000000Z")));
    let out = run_ok(
        with_s3(node.cmd(), &bucket)
            .args(["backup", "list", "--json"])
            .arg(&set),
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let out = run_ok(
        with_s3(node.cmd(), &bucket)
            .args(["backup", "verify", "--json"])
            .arg(&set),
    );
    let verified: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verified.as_array().unwrap().len(), 2);

    // Pruned to the newest: the older backup goes, the shared objects stay.
    run_ok(
        with_s3(node.cmd(), &bucket)
            .args(["backup", "prune", "--keep", "1"])
            .arg(&set),
    );
    assert!(!bucket.objects().iter().any(|k| k.contains(&first_id)));
    run_ok(
        with_s3(node.cmd(), &bucket)
            .args(["backup", "verify"])
            .arg(&set),
    );

    // Restored from the bucket into an empty directory: every document.
    let target = Node::uninitialised_on(store.fresh());
    run_ok(
        with_s3(target.cmd(), &bucket)
            .args(["restore", "--from"])
            .arg(&set)
            .arg("--recovery-identity")
            .arg(&identity_file),
    );
    assert_eq!(all_docs(&target), all_docs(&node));
    clean_check(&target);
    run_ok(target.cmd().args(["audit", "verify"]));
    // No download is left beside it.
    let beside: Vec<_> = std::fs::read_dir(target.data.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".handover-restore-")
        })
        .collect();
    assert!(beside.is_empty());

    // One flipped byte in an object: verify fails, and nothing is restored.
    let object = bucket
        .objects()
        .into_iter()
        .find(|k| k.contains("/objects/documents/"))
        .unwrap();
    let mut bytes = bucket.read(&object);
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    bucket.write(&object, &bytes);
    with_s3(node.cmd(), &bucket)
        .args(["backup", "verify"])
        .arg(&set)
        .assert()
        .code(2);
    let refused = Node::uninitialised_on(store.fresh());
    with_s3(refused.cmd(), &bucket)
        .args(["restore", "--from"])
        .arg(&set)
        .arg("--recovery-identity")
        .arg(&identity_file)
        .assert()
        .code(2);
    assert!(!refused.data.exists() || std::fs::read_dir(&refused.data).unwrap().next().is_none());
}
