//! Key rotation while the node serves (`handover keys rotate`,
//! docs/key-rotation.md): old bundles, receipts, audit checkpoints and
//! backups still verify after a signing rotation; other nodes take the new
//! card through its signed statement; a revoked key is refused for new
//! bundles; a storage rotation rewraps every header without touching a
//! payload, goes on where it stopped, and destroys the old identity.
//! Synthetic data only.

mod common;

use std::path::Path;

use common::bundles::{child_with, create, two_nodes, DEST, SOURCE};
use common::server::{free_port, wait_for, Server};
use common::tus::{Auth, Tus};
use common::{files_under, run_ok, Node, Store};
use predicates::str::contains;
use serde_json::Value;
use sha2::{Digest, Sha256};

on_each_store!(storage_key_rotates_while_serving_without_touching_payloads);

/// Writes `node`'s card to a file next to `to` and adds it there.
fn give_card(from: &Node, to: &Node, extra: &[&str]) -> std::process::Output {
    let card = to.path(&format!("card-{}.json", rand_suffix()));
    let out = run_ok(from.cmd().args(["dept", "card"]));
    std::fs::write(&card, &out.stdout).unwrap();
    to.cmd()
        .args(["dept", "add"])
        .arg(&card)
        .args(extra)
        .output()
        .unwrap()
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

fn card(node: &Node) -> Value {
    serde_json::from_slice(&run_ok(node.cmd().args(["dept", "card"])).stdout).unwrap()
}

/// Serves an existing node, with an administrator made from the command
/// line first (its first login sets [`common::server::ADMIN_PASSWORD`]).
fn serve(node: &Node, env: &[(&str, &str)]) -> Server {
    const FIRST: &str = "first-admin-password-17";
    let dept = card(node)["id"].as_str().unwrap().to_string();
    let mut add = node.cmd();
    add.args(["user", "add", "admin", "--role", "admin", "--scope"])
        .arg(format!("department:{dept}"))
        .arg("--password-stdin")
        .write_stdin(format!("{FIRST}\n"));
    run_ok(&mut add);
    let mut all: Vec<(&str, String)> = node.env();
    all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = Server::start(&node.data, free_port(), "unused", &refs);
    server.admin_password = Some(FIRST.to_string());
    server
}

/// Audit entries of the log with this action.
fn audit_actions(node: &Node, action: &str) -> Vec<Value> {
    common::audit_lines(&node.data)
        .into_iter()
        .filter(|l| l["action"] == action)
        .collect()
}

#[test]
fn signing_key_rotates_while_serving_and_old_artefacts_still_verify() {
    let (src, dst) = two_nodes();
    let (child, _) = child_with(&src, "Zqxname Child", &["fir", "identity"], 4_000);
    let old_bundle = create(&src, &child, "old.bundle", &["--allow-incomplete", "test"]);
    // A receipt the destination signs with its key of before.
    let old_receipt = dst.path("old.receipt");
    run_ok(
        dst.cmd()
            .args(["bundle", "import"])
            .arg(&old_bundle)
            .arg("--receipt")
            .arg(&old_receipt),
    );
    let set = src.path("backups");
    run_ok(src.cmd().arg("backup").arg("--to").arg(&set));
    let before = card(&src);

    // Rotate while the source serves; the server writes checkpoints too.
    let server = serve(&src, &[("HANDOVER_AUDIT_CHECKPOINT_EVERY", "1")]);
    let served: Value = server.card();
    assert_eq!(served["ssh_public_key"], before["ssh_public_key"]);
    let out = run_ok(src.cmd().args(["keys", "rotate", "--signing", "--json"]));
    let rotation: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rotation["compromised"], false);
    let after = card(&src);
    assert_ne!(after["ssh_public_key"], before["ssh_public_key"]);
    assert_eq!(after["age_recipient"], before["age_recipient"]);
    let prev = &after["previous_keys"][0];
    assert_eq!(prev["ssh_public_key"], before["ssh_public_key"]);
    assert_eq!(prev["valid_until"], rotation["at"]);
    assert!(prev.get("revoked").is_none());
    assert_eq!(after["key_statements"].as_array().unwrap().len(), 1);
    // The server took the new card without a restart, and signs with it.
    wait_for(10, "the server's card to change", || {
        (server.card()["ssh_public_key"] == after["ssh_public_key"]).then_some(())
    });
    let admin = server.admin();
    for _ in 0..3 {
        assert_eq!(
            server.get(&admin, "/api/v1/users").send().unwrap().status(),
            200
        );
    }
    let new_key = src.data.join("ssh-ed25519.pub");
    assert_eq!(
        std::fs::read_to_string(&new_key).unwrap().trim(),
        after["ssh_public_key"].as_str().unwrap()
    );
    assert!(!src.data.join("ssh-ed25519.next").exists());

    // The audit log has checkpoints by both keys, in order, and verifies
    // with the card alone; the rotation itself is in it.
    run_ok(src.cmd().args(["audit", "verify"]));
    assert_eq!(audit_actions(&src, "rotate_signing_key").len(), 1);
    // The backup taken before verifies with the card of now.
    run_ok(
        src.cmd()
            .args(["backup", "verify"])
            .arg(&set)
            .arg("--card")
            .arg(src.data.join("card.json")),
    );

    // The statement checks with stock ssh-keygen, signed by the old key.
    let statement = after["key_statements"][0]["statement"].as_str().unwrap();
    let body: Value = serde_json::from_str(statement).unwrap();
    assert_eq!(body["format"], "handover-key-statement/1");
    assert_eq!(body["previous_ssh_public_key"], before["ssh_public_key"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.json"), statement).unwrap();
    std::fs::write(
        dir.path().join("s.sig"),
        after["key_statements"][0]["signature"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("allowed"),
        format!("dept {}\n", before["ssh_public_key"].as_str().unwrap()),
    )
    .unwrap();
    let verified = std::process::Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f", "allowed", "-I", "dept", "-n"])
        .args(["handover-key-statement", "-s", "s.sig"])
        .current_dir(dir.path())
        .stdin(std::fs::File::open(dir.path().join("s.json")).unwrap())
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");

    // A new bundle is signed with the new key: the destination, which
    // trusts the old key, does not verify it until it has the new card ...
    let (child2, _) = child_with(&src, "Zqxname Other", &["fir"], 3_000);
    let new_bundle = create(&src, &child2, "new.bundle", &["--allow-incomplete", "test"]);
    dst.cmd()
        .args(["bundle", "verify"])
        .arg(&new_bundle)
        .assert()
        .code(2);
    // ... which it takes on its own, through the statement.
    let added = give_card(&src, &dst, &[]);
    assert!(added.status.success(), "{added:?}");
    assert!(String::from_utf8_lossy(&added.stderr).contains("signed key statements"));
    for bundle in [&old_bundle, &new_bundle] {
        run_ok(dst.cmd().args(["bundle", "verify"]).arg(bundle));
    }
    let new_receipt = dst.path("new.receipt");
    run_ok(
        dst.cmd()
            .args(["bundle", "import"])
            .arg(&new_bundle)
            .arg("--receipt")
            .arg(&new_receipt),
    );
    run_ok(src.cmd().args(["receipt", "verify"]).arg(&new_receipt));

    // The destination rotates too: its old receipt still verifies at the
    // source once the source has the new card.
    run_ok(dst.cmd().args(["keys", "rotate", "--signing"]));
    let added = give_card(&dst, &src, &[]);
    assert!(added.status.success(), "{added:?}");
    run_ok(src.cmd().args(["receipt", "verify"]).arg(&old_receipt));
    drop(server);
    run_ok(src.cmd().args(["audit", "verify"]));
}

#[test]
fn a_card_whose_statement_is_not_signed_by_the_trusted_key_needs_replace() {
    let (src, dst) = two_nodes();
    run_ok(src.cmd().args(["keys", "rotate", "--signing"]));
    // Forge: keep the new keys, but sign the statement with another key.
    let mut forged = card(&src);
    let other = Node::init();
    run_ok(other.cmd().args(["keys", "rotate", "--signing"]));
    let other_card = card(&other);
    forged["key_statements"] = other_card["key_statements"].clone();
    let file = dst.file("forged.json", forged.to_string().as_bytes());
    dst.cmd()
        .args(["dept", "add"])
        .arg(&file)
        .assert()
        .code(1)
        .stderr(contains("already in the directory with other keys"));
    // The directory still holds the old card.
    let list: Value =
        serde_json::from_slice(&run_ok(dst.cmd().args(["dept", "list", "--json"])).stdout).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == SOURCE)
        .unwrap();
    assert!(entry.get("previous_keys").is_none());
    // After a phone check, --replace takes it.
    run_ok(dst.cmd().args(["dept", "add", "--replace"]).arg(&file));
}

#[test]
fn a_bundle_signed_by_a_revoked_key_is_refused() {
    let (src, dst) = two_nodes();
    let (child, _) = child_with(&src, "Zqxname Child", &["fir"], 3_000);
    let stolen = create(
        &src,
        &child,
        "stolen.bundle",
        &["--allow-incomplete", "test"],
    );
    run_ok(dst.cmd().args(["bundle", "verify"]).arg(&stolen));

    // The destination is told by phone that the source's key was stolen.
    dst.cmd()
        .args([
            "dept",
            "revoke",
            SOURCE,
            "--reason",
            "key stolen, call of 6 Dec",
        ])
        .assert()
        .success();
    for args in [&["bundle", "verify"][..], &["bundle", "import"][..]] {
        dst.cmd()
            .args(args)
            .arg(&stolen)
            .assert()
            .code(1)
            .stderr(contains("revoked"));
    }
    let children: Value =
        serde_json::from_slice(&run_ok(dst.cmd().args(["child", "list", "--json"])).stdout)
            .unwrap();
    assert_eq!(children.as_array().unwrap().len(), 0, "nothing imported");
    // Nothing goes to the source either.
    let (back, _) = child_with(&dst, "Zqxname Back", &["fir"], 3_000);
    dst.cmd()
        .args(["bundle", "create", &back, "--to", SOURCE, "-o"])
        .arg(dst.path("back.bundle"))
        .args(["--allow-incomplete", "test"])
        .assert()
        .code(1)
        .stderr(contains("revoked"));
    assert!(!dst.path("back.bundle").exists());
    let list = run_ok(dst.cmd().args(["dept", "list"]));
    assert!(String::from_utf8_lossy(&list.stdout).contains(&format!("{SOURCE} (revoked)")));
    assert_eq!(audit_actions(&dst, "revoke_department_key").len(), 1);
    // The administrator's page of departments says so too.
    {
        let server = serve(&dst, &[]);
        let mut web = common::web::Web::new(&server.url(""));
        web.first_login(
            "admin",
            "first-admin-password-17",
            common::server::ADMIN_PASSWORD,
        );
        let page = web.get("/admin/departments");
        assert_eq!(page.status, 200);
        assert_eq!(page.body.matches("key revoked").count(), 1, "{}", page.body);
        // Pushed to the inbox, the bundle is refused at the door.
        let r = common::server::client()
            .post(server.url("/api/v1/inbox"))
            .body(std::fs::read(&stolen).unwrap())
            .send()
            .unwrap();
        let (status, kind) = common::server::problem(r);
        assert_eq!(
            (status, kind.as_str()),
            (422, "urn:handover:problem:bundle-refused")
        );
        assert!(files_under(&dst.data.join("inbox")).is_empty());
    }

    // The source rotates, declaring the key compromised: no statement, so
    // the destination takes the new card only with --replace.
    run_ok(
        src.cmd()
            .args(["keys", "rotate", "--signing", "--compromised"]),
    );
    let new_card = card(&src);
    assert_eq!(new_card["previous_keys"][0]["revoked"], true);
    assert!(new_card.get("key_statements").is_none());
    let refused = give_card(&src, &dst, &[]);
    assert_eq!(refused.status.code(), Some(1));
    let replaced = give_card(&src, &dst, &["--replace"]);
    assert!(replaced.status.success(), "{replaced:?}");
    // The stolen key stays refused; a new bundle is accepted.
    dst.cmd()
        .args(["bundle", "verify"])
        .arg(&stolen)
        .assert()
        .code(1)
        .stderr(contains("revoked"));
    let fresh = create(
        &src,
        &child,
        "fresh.bundle",
        &["--allow-incomplete", "test"],
    );
    run_ok(dst.cmd().args(["bundle", "import"]).arg(&fresh));

    // A third node that never revoked anything learns it from the card.
    let third = common::bundles::demo_node("xx-third-node", &[]);
    let added = give_card(&src, &third, &[]);
    assert!(added.status.success(), "{added:?}");
    third
        .cmd()
        .args(["bundle", "verify"])
        .arg(&stolen)
        .assert()
        .code(1)
        .stderr(contains("revoked"));
}

/// SHA-256 of every stored payload, by name.
fn payloads(node: &Node) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = match &node.store {
        Store::Disk => files_under(&node.blob_dir())
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p.display().to_string(), hex::encode(Sha256::digest(bytes)))
            })
            .collect(),
        Store::S3(bucket) => bucket
            .objects()
            .into_iter()
            .map(|k| {
                let bytes = bucket.read(&k);
                (k, hex::encode(Sha256::digest(bytes)))
            })
            .collect(),
    };
    all.sort();
    all
}

fn get_doc(node: &Node, id: &str, out: &Path) -> Vec<u8> {
    run_ok(
        node.cmd()
            .args(["doc", "get", id, "--force", "-o"])
            .arg(out),
    );
    std::fs::read(out).unwrap()
}

fn storage_key_rotates_while_serving_without_touching_payloads(store: Store) {
    let (src, dst) = common::bundles::two_nodes_on(&store);
    let child = common::created_id(src.cmd().args([
        "child",
        "add",
        "--name",
        "Zqxname Child",
        "--institution",
        "home-1",
    ]));
    let mut docs = Vec::new();
    let mut ids = Vec::new();
    for kind in [
        "fir",
        "identity",
        "medical_report",
        "care_plan",
        "cwc_order",
    ] {
        let bytes = common::pdf(20_000, kind);
        let file = src.file(&format!("{kind}.pdf"), &bytes);
        ids.push(src.put(&child, kind, &file));
        docs.push(bytes);
    }
    let before = payloads(&src);
    assert_eq!(before.len(), docs.len());
    let old_identity = std::fs::read(src.data.join("age-identity.txt")).unwrap();
    let old_card = card(&src);
    let server = serve(&src, &[]);
    let admin = server.admin();
    let staff = server.user(&admin, "staff", "shelter_staff", "institution:home-1");

    // A resumable upload half staged before the rotation (its segments
    // are sealed to the old identity).
    let tus = Tus::new(&server.url(""), Auth::Bearer(staff.clone()));
    let upload = common::pdf(3 * 1024 * 1024, "tus-across-rotation");
    let location = tus.create(&child, "medical_report", upload.len() as u64);
    let half = upload.len() / 2;
    let r = tus.patch(&location, 0, upload[..half].to_vec()).unwrap();
    assert_eq!(r.status(), 204);

    // The first run stops after two headers; the node goes on serving.
    let out = run_ok(
        src.cmd()
            .args(["keys", "rotate", "--storage", "--limit", "2", "--json"]),
    );
    let first: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(first["finished"], false);
    assert_eq!(first["rewrapped"], 2);
    assert_eq!(first["left"], 3);
    assert!(src.data.join("age-identity.previous.txt").exists());
    assert!(src.data.join("database-key.age").exists());
    let report: Value =
        serde_json::from_slice(&run_ok(src.cmd().args(["check", "--json"])).stdout).unwrap();
    assert_eq!(report["storage_rotation_unfinished"], true);
    assert_eq!(report["headers_to_rewrap"], 3);
    // The card still names the old recipient (bundles to it still open).
    assert_eq!(card(&src)["age_recipient"], old_card["age_recipient"]);
    // Documents read while half of them are rewrapped.
    for (id, bytes) in ids.iter().zip(&docs) {
        assert_eq!(&get_doc(&src, id, &src.path("mid.pdf")), bytes);
    }
    // A document added meanwhile is sealed to the new identity.
    let added = common::pdf(30_000, "added-during-rotation");
    let file = src.file("added.pdf", &added);
    let added_id = src.put(&child, "other", &file);

    // Running it again finishes.
    let out = run_ok(src.cmd().args(["keys", "rotate", "--storage", "--json"]));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["finished"], true, "{done}");
    assert_eq!(done["rewrapped"], 3);
    assert!(done["segments"].as_u64().unwrap() >= 1, "{done}");
    assert!(!src.data.join("age-identity.previous.txt").exists());
    let new_identity = std::fs::read(src.data.join("age-identity.txt")).unwrap();
    assert_ne!(new_identity, old_identity);
    let new_card = card(&src);
    assert_ne!(new_card["age_recipient"], old_card["age_recipient"]);
    assert_eq!(new_card["ssh_public_key"], old_card["ssh_public_key"]);
    assert_eq!(new_card["key_statements"].as_array().unwrap().len(), 1);

    // Not one payload changed: only headers were rewrapped.
    let after: Vec<_> = payloads(&src)
        .into_iter()
        .filter(|(name, _)| !name.contains(&added_id))
        .collect();
    assert_eq!(after, before);

    // The upload staged before the rotation completes after it.
    let (uploaded, _) = tus.finish(&location, &upload, 5);
    let r = server
        .get(&staff, &format!("/api/v1/documents/{uploaded}/content"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(&r.bytes().unwrap()[..], &upload[..]);

    // Every document reads through the server and the command line, the
    // stock age tool opens a sealed copy with the new identity only.
    for (id, bytes) in ids.iter().zip(&docs) {
        let r = server
            .get(&staff, &format!("/api/v1/documents/{id}/content"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(&r.bytes().unwrap()[..], &bytes[..]);
    }
    let sealed = src.path("sealed.age");
    run_ok(
        src.cmd()
            .args(["doc", "get", &ids[0], "--sealed", "-o"])
            .arg(&sealed),
    );
    let opened = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(src.data.join("age-identity.txt"))
        .arg(&sealed)
        .output()
        .unwrap();
    assert!(opened.status.success());
    assert_eq!(opened.stdout, docs[0]);
    let old_file = src.file("old-identity.txt", &old_identity);
    let refused = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&old_file)
        .arg(&sealed)
        .output()
        .unwrap();
    assert!(!refused.status.success(), "the old identity opens nothing");
    let report: Value =
        serde_json::from_slice(&run_ok(src.cmd().args(["check", "--json"])).stdout).unwrap();
    assert_eq!(report["storage_rotation_unfinished"], false);
    run_ok(src.cmd().args(["audit", "verify"]));
    let targets: Vec<String> = audit_actions(&src, "rotate_storage_key")
        .iter()
        .map(|e| {
            e["target"]
                .as_str()
                .unwrap()
                .split(':')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(targets, ["started", "finished"]);

    // The destination takes the new card on its own, and a bundle made
    // with it reaches the source.
    let added = give_card(&src, &dst, &[]);
    assert!(added.status.success(), "{added:?}");
    let (back, back_docs) = child_with(&dst, "Zqxname Back", &["fir"], 5_000);
    let bundle = dst.path("back.bundle");
    run_ok(
        dst.cmd()
            .args(["bundle", "create", &back, "--to", SOURCE, "-o"])
            .arg(&bundle)
            .args(["--allow-incomplete", "test"]),
    );
    let imported = run_ok(src.cmd().args(["bundle", "import"]).arg(&bundle));
    let child_back = common::stdout_line(&imported.stdout);
    let back_ids = src.doc_ids(&child_back);
    assert_eq!(
        get_doc(&src, &back_ids[0], &src.path("back.pdf")),
        back_docs[0]
    );
    drop(server);
}

#[test]
fn a_storage_rotation_killed_midway_goes_on_when_run_again() {
    let node = Node::init();
    let child = node.add_child("Zqxname Child");
    let mut docs = Vec::new();
    for i in 0..40 {
        let bytes = common::pdf(2_000 + i, &format!("doc-{i}"));
        let file = node.file(&format!("d{i}.pdf"), &bytes);
        docs.push((node.put(&child, "fir", &file), bytes));
    }
    // Kill it as soon as it has begun (or finished: either way the second
    // run must leave a node whose every document reads).
    let mut running = std::process::Command::new(env!("CARGO_BIN_EXE_handover"))
        .arg("--data-dir")
        .arg(&node.data)
        .args(["keys", "rotate", "--storage"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(30, "the rotation to begin", || {
        (node.data.join("age-identity.previous.txt").exists()
            || running.try_wait().unwrap().is_some())
        .then_some(())
    });
    let _ = running.kill();
    let _ = running.wait();
    run_ok(node.cmd().args(["keys", "rotate", "--storage"]));
    assert!(!node.data.join("age-identity.previous.txt").exists());
    for (id, bytes) in &docs {
        assert_eq!(&get_doc(&node, id, &node.path("out.pdf")), bytes);
    }
    run_ok(node.cmd().arg("check"));
    run_ok(node.cmd().args(["audit", "verify"]));
    // A second rotation after the first works the same way.
    run_ok(node.cmd().args(["keys", "rotate", "--storage"]));
    for (id, bytes) in docs.iter().take(3) {
        assert_eq!(&get_doc(&node, id, &node.path("out.pdf")), bytes);
    }
}

#[test]
fn a_storage_rotation_waits_for_the_inbox_and_accepted_bundles_are_rewrapped() {
    let (src, dst) = two_nodes();
    let server = serve(&dst, &[]);
    let admin = server.admin();
    let swd = server.user(&admin, "swd", "swd_officer", &format!("department:{DEST}"));
    let mut pushed = Vec::new();
    for name in ["one", "two"] {
        let (child, docs) = child_with(&src, &format!("Zqxname {name}"), &["fir"], 6_000);
        let bundle = create(
            &src,
            &child,
            &format!("{name}.bundle"),
            &["--allow-incomplete", "t"],
        );
        let r = common::server::client()
            .post(server.url("/api/v1/inbox"))
            .body(std::fs::read(&bundle).unwrap())
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().unwrap();
        pushed.push((v["bundle_id"].as_str().unwrap().to_string(), docs));
    }
    // Two bundles wait, encrypted to the old key: the rotation stops before
    // it retires the old key, and says why.
    dst.cmd()
        .args(["keys", "rotate", "--storage"])
        .assert()
        .code(1)
        .stderr(contains("2 bundle(s) in the inbox"));
    assert!(dst.data.join("age-identity.previous.txt").exists());
    // One is accepted (its documents are sealed to the old key and get
    // rewrapped), the other refused.
    let r = server
        .post(&swd, &format!("/api/v1/inbox/{}/accept", pushed[0].0))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
    let child: Value = r.json().unwrap();
    let r = server
        .post(&swd, &format!("/api/v1/inbox/{}/refuse", pushed[1].0))
        .json(&serde_json::json!({"reason": "wrong child, test"}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
    let out = run_ok(dst.cmd().args(["keys", "rotate", "--storage", "--json"]));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["finished"], true);
    assert!(done["rewrapped"].as_u64().unwrap() >= 1, "{done}");
    assert!(!dst.data.join("age-identity.previous.txt").exists());
    let child_id = child["inbox"]["child_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{child}"));
    let ids = dst.doc_ids(child_id);
    assert_eq!(get_doc(&dst, &ids[0], &dst.path("in.pdf")), pushed[0].1[0]);
    // A bundle made with the old card is now refused at the door.
    let (late, _) = child_with(&src, "Zqxname late", &["fir"], 6_000);
    let bundle = create(&src, &late, "late.bundle", &["--allow-incomplete", "t"]);
    let r = common::server::client()
        .post(server.url("/api/v1/inbox"))
        .body(std::fs::read(&bundle).unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[test]
fn a_passphrase_protected_node_rotates_both_keys_under_its_passphrase() {
    const PASS: (&str, &str) = ("HANDOVER_PASSPHRASE", "a long test passphrase 9");
    let node = Node::uninitialised();
    node.cmd()
        .env(PASS.0, PASS.1)
        .args([
            "init",
            "--department",
            "pp-dept",
            "--name",
            "PP",
            "--passphrase",
        ])
        .assert()
        .success();
    let child = common::created_id(node.cmd().env(PASS.0, PASS.1).args([
        "child",
        "add",
        "--name",
        "Zqxname Child",
    ]));
    let bytes = common::pdf(9_000, "protected");
    let file = node.file("p.pdf", &bytes);
    let doc = common::created_id(
        node.cmd()
            .env(PASS.0, PASS.1)
            .args(["doc", "put", &child, "--kind", "fir"])
            .arg(&file),
    );
    for which in ["--signing", "--storage"] {
        run_ok(
            node.cmd()
                .env(PASS.0, PASS.1)
                .args(["keys", "rotate", which]),
        );
    }
    // The new secrets are under the same passphrase, nothing in clear.
    assert!(node.data.join("age-identity.age").exists());
    assert!(!node.data.join("age-identity.txt").exists());
    assert!(!node.data.join("age-identity.previous.age").exists());
    let key = std::fs::read_to_string(node.data.join("ssh-ed25519")).unwrap();
    assert!(
        !key.contains("PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU"),
        "unencrypted key"
    );
    let out = node.path("out.pdf");
    run_ok(
        node.cmd()
            .env(PASS.0, PASS.1)
            .args(["doc", "get", &doc, "-o"])
            .arg(&out),
    );
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    node.cmd()
        .env(PASS.0, "not the passphrase at all")
        .args(["doc", "list", &child])
        .assert()
        .code(1);
}
