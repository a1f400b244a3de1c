//! The transfer bundle: the hand-over between the two demo departments, and
//! every bad bundle refused before anything is written.

mod common;

use std::io::Write;
use std::path::Path;

use common::bundles::*;
use common::{run_ok, Node, Store};
use predicates::prelude::*;
use predicates::str::contains;

on_each_store!(
    hand_over_between_the_demo_departments,
    create_refusals,
    create_sends_only_the_stored_files_recorded,
    every_single_byte_flip_is_refused_by_verify_and_open,
    truncation_at_any_point_is_refused,
    wrong_destination_retargeted_and_resigned_envelopes,
    extra_missing_duplicate_and_versioned_entries,
    unsafe_paths_symlinks_compression_and_zip_bombs,
);

/// A small bundle of a child with two documents (checklist incomplete).
fn small_bundle(src: &Node) -> (std::path::PathBuf, Vec<Vec<u8>>) {
    let (child, docs) = child_with(src, "Zqxname Child", &["medical_report", "identity"], 700);
    let out = create(
        src,
        &child,
        "small.bundle",
        &["--allow-incomplete", "test: papers follow"],
    );
    (out, docs)
}

fn hand_over_between_the_demo_departments(store: Store) {
    let (src, dst) = two_nodes_on(&store);
    let (child, docs) = child_with(&src, "Zqxname Child", &RESTORATION, 50_000);

    let bundle = create(&src, &child, "child.bundle", &[]);
    let bytes = std::fs::read(&bundle).unwrap();
    // Nothing personal in clear: no name, title, kind or plaintext.
    for needle in [
        "Zqxname",
        "Zqxtitle",
        "medical_report",
        "release_certificate",
        "synthetic test document",
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} in clear"
        );
    }

    // Anyone with the directory verifies it: source, destination, a third node.
    for node in [
        &src,
        &dst,
        &demo_node_on("xx-third-node", &[SOURCE, DEST], &store),
    ] {
        let out = run_ok(node.cmd().args(["bundle", "verify", "--json"]).arg(&bundle));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["source"], SOURCE);
        assert_eq!(v["destination"], DEST);
        assert_eq!(v["documents"], 8);
        assert_eq!(v["size"], bytes.len() as u64);
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Zqx"));
    }

    // Only the destination opens it.
    let out_dir = dst.path("opened");
    dst.cmd()
        .args(["bundle", "open"])
        .arg(&bundle)
        .arg("--out")
        .arg(&out_dir)
        .assert()
        .success();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["child"]["name"], "Zqxname Child");
    assert_eq!(manifest["source_child_id"], child);
    assert!(manifest.get("incomplete_reason").is_none());
    for (i, doc) in docs.iter().enumerate() {
        let got = std::fs::read(out_dir.join(format!("documents/{:04}.pdf", i + 1))).unwrap();
        assert_eq!(&got, doc, "document {}", i + 1);
        assert_eq!(manifest["documents"][i]["kind"], RESTORATION[i]);
    }
    src.cmd()
        .args(["bundle", "open"])
        .arg(&bundle)
        .arg("--out")
        .arg(src.path("nope"))
        .assert()
        .code(1)
        .stderr(contains("is for department br-swd-patna, not this node"));
    assert!(!src.path("nope").exists());
}

/// `bundle create CHILD --to TO --allow-incomplete REASON -o OUT` at `node`.
fn create_cmd(node: &Node, child: &str, to: &str, reason: &str, out: &Path) -> assert_cmd::Command {
    let mut cmd = node.cmd();
    cmd.args([
        "bundle",
        "create",
        child,
        "--to",
        to,
        "--allow-incomplete",
        reason,
        "-o",
    ])
    .arg(out);
    cmd
}

fn create_refusals(store: Store) {
    let (src, _dst) = two_nodes_on(&store);
    let (child, _) = child_with(&src, "Test Child", &["fir"], 500);
    let out = src.path("b.bundle");
    src.cmd()
        .args(["bundle", "create", &child, "--to", DEST, "-o"])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains("restoration checklist").and(contains("missing: medical_report")));
    create_cmd(&src, &child, "xx-unknown", "r", &out)
        .assert()
        .code(1)
        .stderr(contains("not in the directory"));
    create_cmd(&src, &child, SOURCE, "r", &out)
        .assert()
        .code(1)
        .stderr(contains("itself"));
    create_cmd(&src, &child, DEST, " ", &out)
        .assert()
        .code(1)
        .stderr(contains("needs a reason"));
    assert!(!out.exists());

    // A stored document that fails its digest mid-way: nothing is written.
    let blob = src.doc_ids(&child).pop().unwrap();
    let good_blob = src.read_blob(&blob);
    let mut bad_blob = good_blob.clone();
    let at = bad_blob.len() - 20;
    bad_blob[at] ^= 1;
    src.write_blob(&blob, &bad_blob);
    create_cmd(&src, &child, DEST, "r", &out)
        .assert()
        .code(2)
        .stderr(contains("fails authentication"));
    assert!(!out.exists());
    assert!(
        !handover::bundle::partial_path(&out).exists(),
        "no partial file left"
    );
    src.write_blob(&blob, &good_blob);

    // With a reason it goes, and the reason travels in the manifest.
    let bundle = create(
        &src,
        &child,
        "b.bundle",
        &["--allow-incomplete", "test: rest follows by post"],
    );
    let manifest = open_in_process(&bundle).unwrap();
    assert_eq!(
        manifest.incomplete_reason.as_deref(),
        Some("test: rest follows by post")
    );
    create_cmd(&src, &child, DEST, "r", &bundle)
        .assert()
        .code(1)
        .stderr(contains("already exists"));
}

/// `create` for `to` refuses with `expect`, leaving neither the bundle nor a partial file.
fn create_refused(node: &Node, child: &str, to: &str, out: &Path, expect: &str) {
    create_cmd(node, child, to, "r", out)
        .assert()
        .code(2)
        .stderr(contains(expect));
    assert!(!out.exists() && !handover::bundle::partial_path(out).exists());
}

fn create_sends_only_the_stored_files_recorded(store: Store) {
    // A payload is opened only with the header its document's row holds
    // (the file key): any other payload fails authentication.
    const NOT_RECORDED: &str = "fails authentication";
    let (src, dst) = two_nodes_on(&store);
    let (child, docs) = child_with(&src, "Test Child", &["fir", "medical_report"], 500);
    let files = src.doc_ids(&child);
    let stored: Vec<Vec<u8>> = files.iter().map(|f| src.read_blob(f)).collect();
    let out = src.path("b.bundle");

    // Two documents' stored files swapped: each is valid age to this node,
    // with the same plaintext size, but not the file recorded for it.
    src.write_blob(&files[0], &stored[1]);
    src.write_blob(&files[1], &stored[0]);
    create_refused(&src, &child, DEST, &out, NOT_RECORDED);

    // A file newly encrypted to this node, other content of the same size.
    let card = directory().card(SOURCE).unwrap().clone();
    let recipient = handover::crypto::parse_recipient(&card.age_recipient).unwrap();
    let mut forged = Vec::new();
    let other = vec![b'x'; docs[0].len()];
    handover::crypto::seal(&recipient, &other[..], &mut forged).unwrap();
    src.write_blob(&files[0], &forged);
    src.write_blob(&files[1], &stored[1]);
    create_refused(&src, &child, DEST, &out, NOT_RECORDED);
    src.write_blob(&files[0], &stored[0]);

    // Restored, it goes; the destination imports it.
    let bundle = create(&src, &child, "b.bundle", &["--allow-incomplete", "r"]);
    run_ok(dst.cmd().args(["bundle", "import"]).arg(&bundle));

    // Imported files were sealed by the source, whose file keys the source
    // knew: sent onward, they are checked by their whole plaintext digest,
    // and their payloads too open only with their own headers.
    let imported = run_ok(dst.cmd().args(["child", "list"]));
    let imported = String::from_utf8(imported.stdout).unwrap();
    let onward = imported.split('\t').next().unwrap().trim().to_string();
    let files = dst.doc_ids(&onward);
    let (a, b) = (dst.read_blob(&files[0]), dst.read_blob(&files[1]));
    dst.write_blob(&files[0], &b);
    dst.write_blob(&files[1], &a);
    let back = dst.path("back.bundle");
    create_refused(&dst, &onward, SOURCE, &back, NOT_RECORDED);
    dst.write_blob(&files[0], &a);
    dst.write_blob(&files[1], &b);
    create_cmd(&dst, &onward, SOURCE, "r", &back)
        .assert()
        .success();
}

fn every_single_byte_flip_is_refused_by_verify_and_open(store: Store) {
    let (src, _dst) = two_nodes_on(&store);
    let (bundle, _) = small_bundle(&src);
    let good = std::fs::read(&bundle).unwrap();
    open_in_process(&bundle).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("flipped.bundle");
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        assert!(
            verify_in_process(&path).is_err(),
            "verify accepted a flip at {at}"
        );
        assert!(
            open_in_process(&path).is_err(),
            "open accepted a flip at {at}"
        );
    }
    // And through the command line: exit 2, nothing written.
    let dst = demo_node(DEST, &[SOURCE]);
    for at in [0, good.len() / 3, good.len() / 2, good.len() - 30] {
        let mut bad = good.clone();
        bad[at] ^= 0x80;
        let f = dst.file("bad.bundle", &bad);
        dst.cmd()
            .args(["bundle", "verify"])
            .arg(&f)
            .assert()
            .code(2);
        dst.cmd()
            .args(["bundle", "open"])
            .arg(&f)
            .arg("--out")
            .arg(dst.path("o"))
            .assert()
            .code(2);
        assert!(!dst.path("o").exists() && !dst.path("o.partial").exists());
    }
}

fn truncation_at_any_point_is_refused(store: Store) {
    let (src, _dst) = two_nodes_on(&store);
    let (bundle, _) = small_bundle(&src);
    let good = std::fs::read(&bundle).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("cut.bundle");
    for cut in 0..good.len() {
        std::fs::write(&path, &good[..cut]).unwrap();
        assert!(verify_in_process(&path).is_err(), "cut at {cut} accepted");
    }
    let mut longer = good.clone();
    longer.push(0);
    std::fs::write(&path, &longer).unwrap();
    assert!(
        verify_in_process(&path).is_err(),
        "an appended byte was accepted"
    );
}

/// A zip written by the stock `zip` crate.
type StockZip = zip::ZipWriter<std::io::Cursor<Vec<u8>>>;

/// Writes `bytes` as a bundle at the destination and expects verify and open
/// to fail with `code` and a message containing `expect`, leaving no output.
fn refused(bytes: &[u8], code: i32, expect: &str) {
    let dst = demo_node(DEST, &[SOURCE]);
    let f = dst.file("hostile.bundle", bytes);
    dst.cmd()
        .args(["bundle", "verify"])
        .arg(&f)
        .assert()
        .code(code)
        .stderr(contains(expect));
    dst.cmd()
        .args(["bundle", "open"])
        .arg(&f)
        .arg("--out")
        .arg(dst.path("out"))
        .assert()
        .code(code)
        .stderr(contains(expect));
    assert!(!dst.path("out").exists() && !dst.path("out.partial").exists());
}

fn wrong_destination_retargeted_and_resigned_envelopes(store: Store) {
    let (src, _dst) = two_nodes_on(&store);
    let (bundle, _) = small_bundle(&src);
    let good = std::fs::read(&bundle).unwrap();
    let entries = entries(&good);
    assert_eq!(rebuild(&entries), good, "the rebuild is exact");

    // A bundle for another department: a third node cannot open it.
    let third = demo_node_on("xx-third-node", &[SOURCE, DEST], &store);
    third
        .cmd()
        .args(["bundle", "open"])
        .arg(&bundle)
        .arg("--out")
        .arg(third.path("o"))
        .assert()
        .code(1)
        .stderr(contains("not this node"));

    // The envelope re-targeted at another destination, signature kept.
    let mut e = entries.clone();
    let text = String::from_utf8(e[1].1.clone()).unwrap();
    e[1].1 = text
        .replacen(
            &format!("\"id\": \"{DEST}\""),
            "\"id\": \"rj-dcpu-jaipur\"",
            1,
        )
        .into_bytes();
    refused(&rebuild(&e), 2, "signature does not verify");

    // Re-signed by a key the directory does not know for the source.
    let mut e = entries.clone();
    let rogue = handover::crypto::NodeKeys::generate("rogue").unwrap();
    e[2].1 = handover::crypto::sign(&rogue, &e[1].1).into_bytes();
    refused(&rebuild(&e), 2, "signature does not verify");

    // Claiming a source that is not in the directory, signed by its own key.
    let mut e = entries.clone();
    let text = String::from_utf8(e[1].1.clone()).unwrap();
    e[1].1 = text
        .replacen(
            &format!("\"id\": \"{SOURCE}\""),
            "\"id\": \"xx-unknown\"",
            1,
        )
        .into_bytes();
    e[2].1 = handover::crypto::sign(&rogue, &e[1].1).into_bytes();
    refused(
        &rebuild(&e),
        1,
        "source department xx-unknown is not in the directory",
    );

    // A destination node that lacks the source's card cannot check it.
    let lonely = demo_node(DEST, &[]);
    lonely
        .cmd()
        .args(["bundle", "verify"])
        .arg(&bundle)
        .assert()
        .code(1)
        .stderr(contains("not in the directory"));
}

fn extra_missing_duplicate_and_versioned_entries(store: Store) {
    let (src, _dst) = two_nodes_on(&store);
    let (bundle, _) = small_bundle(&src);
    let entries = entries(&std::fs::read(&bundle).unwrap());

    let mut e = entries.clone();
    e.push(("documents/0003.age".into(), b"extra".to_vec()));
    refused(
        &rebuild(&e),
        2,
        "the envelope lists 3 entries, the zip holds 4",
    );
    let mut e = entries.clone();
    e.push(("evil.txt".into(), b"extra".to_vec()));
    refused(&rebuild(&e), 2, "unexpected entry evil.txt");
    let mut e = entries.clone();
    e.pop();
    refused(
        &rebuild(&e),
        2,
        "the envelope lists 3 entries, the zip holds 2",
    );
    let mut e = entries.clone();
    e.remove(2);
    refused(&rebuild(&e), 2, "expected envelope.json.sig");
    let mut e = entries.clone();
    let dup = e[4].clone();
    e.push(dup);
    refused(&rebuild(&e), 2, "duplicate entry documents/0001.age");

    let mut e = entries.clone();
    e[0].1 = b"handover-bundle/2\n".to_vec();
    refused(&rebuild(&e), 1, "unsupported bundle format version");
    let mut e = entries.clone();
    e[1].1 = vec![b' '; 2 * 1024 * 1024];
    refused(&rebuild(&e), 2, "exceeds a size limit");
}

fn unsafe_paths_symlinks_compression_and_zip_bombs(store: Store) {
    let (src, _dst) = two_nodes_on(&store);
    let (bundle, _) = small_bundle(&src);
    let entries = entries(&std::fs::read(&bundle).unwrap());

    for (name, expect) in [
        ("../../x", "unsafe entry path"),
        ("/etc/passwd", "absolute path"),
        ("documents\\0001.age", "backslash"),
        ("documents/../0001.age", "unsafe entry path"),
    ] {
        let mut e = entries.clone();
        e[4].0 = name.to_string();
        refused(&rebuild(&e), 2, expect);
    }

    // Made with the stock zip crate, as an attacker would.
    let stock = |f: &dyn Fn(&mut StockZip)| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        f(&mut w);
        w.finish().unwrap().into_inner()
    };
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);

    let compressed = stock(&|w| {
        for (i, (name, data)) in entries.iter().enumerate() {
            w.start_file(name.as_str(), if i == 4 { deflated } else { stored })
                .unwrap();
            w.write_all(data).unwrap();
        }
    });
    refused(&compressed, 2, "compressed: only stored entries are valid");

    let bomb = stock(&|w| {
        for (name, data) in &entries[..4] {
            w.start_file(name.as_str(), stored).unwrap();
            w.write_all(data).unwrap();
        }
        w.start_file("documents/0001.age", deflated).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..256 {
            w.write_all(&zeros).unwrap(); // 256 MiB of zeros, a few hundred KiB deflated
        }
    });
    assert!(bomb.len() < 2 << 20);
    refused(&bomb, 2, "compressed");

    let symlink = stock(&|w| {
        for (name, data) in &entries[..4] {
            w.start_file(name.as_str(), stored).unwrap();
            w.write_all(data).unwrap();
        }
        w.add_symlink("documents/0001.age", "/etc/shadow", stored)
            .unwrap();
    });
    refused(&symlink, 2, "symbolic link");

    // An entry claiming more bytes than the file holds.
    let good = rebuild(&entries);
    let mut lying = good.clone();
    let cd = good.len()
        - 22
        - (46 * entries.len() + entries.iter().map(|(n, _)| n.len()).sum::<usize>());
    let last_cd = good.len() - 22 - (46 + entries.last().unwrap().0.len());
    assert!(last_cd > cd);
    lying[last_cd + 20..last_cd + 28]
        .copy_from_slice(&[0xff, 0xff, 0xff, 0xef, 0xff, 0xff, 0xff, 0xef]);
    refused(&lying, 2, "not canonical");
}
