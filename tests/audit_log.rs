//! The audit log: every kind of tampering is found and named, checkpoints
//! verify with stock `ssh-keygen`, concurrent writers keep one chain, and a
//! log that cannot be written stops the read before any byte leaves.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command as StdCommand;
use std::sync::Arc;

use common::{created_id, pdf, run_ok, Node};
use handover::audit::{self, AuditLog, Entry, Outcome};
use handover::crypto::NodeKeys;

/// A node whose log holds a few dozen lines, a checkpoint every 4 entries.
fn busy_node() -> Node {
    let node = Node::init();
    let child = created_id(
        node.cmd()
            .args(["child", "add", "--name", "Zqxmarker Audit"]),
    );
    let file = node.file("a.pdf", &pdf(5_000, "audit"));
    let doc = created_id(
        node.cmd()
            .args(["doc", "put", &child, "--kind", "fir"])
            .arg(&file),
    );
    for _ in 0..6 {
        run_ok(
            node.cmd()
                .env("HANDOVER_AUDIT_CHECKPOINT_EVERY", "4")
                .args(["doc", "get", &doc, "-o", "-"]),
        );
        run_ok(node.cmd().args(["child", "show", &child]));
    }
    node
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(path, text).unwrap();
}

/// Runs `audit verify` on a tampered copy of the log; returns (exit, stderr).
fn verify_copy(node: &Node, edit: impl FnOnce(&mut Vec<String>)) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let mut all = lines(&node.data.join("audit.log"));
    edit(&mut all);
    write_lines(&log, &all);
    fs::copy(node.data.join("audit.head"), dir.path().join("audit.head")).unwrap();
    let out = node
        .cmd()
        .args(["audit", "verify", "--log"])
        .arg(&log)
        .arg("--card")
        .arg(node.data.join("card.json"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_kind_of_tampering_is_found_and_named() {
    let node = busy_node();
    let total = lines(&node.data.join("audit.log")).len();
    assert!(total > 20, "{total} lines");

    let (code, err) = verify_copy(&node, |_| {});
    assert_eq!(code, 0, "the untouched log verifies: {err}");
    let out = run_ok(node.cmd().args(["audit", "verify"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit log verified"));

    // An edited line: the next line's link no longer matches.
    let (code, err) = verify_copy(&node, |l| l[4] = l[4].replace("\"allow\"", "\"deny\""));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 5 was altered"), "{err}");

    // A line edited so it is no longer canonical (an extra field).
    let (code, err) = verify_copy(&node, |l| l[2] = l[2].replacen('{', "{\"x\":1,", 1));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 3"), "{err}");

    // A deleted line.
    let (code, err) = verify_copy(&node, |l| {
        l.remove(5);
    });
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("line 6: expected entry 6, found entry 7"),
        "{err}"
    );

    // An inserted line that links correctly to the one before it.
    let (code, err) = verify_copy(&node, |l| {
        let prev = audit_hash(&l[5]);
        let forged = l[6]
            .replacen(&format!("\"seq\":{}", 7), "\"seq\":7", 1)
            .replace(&l[6][l[6].find("\"prev\":\"").unwrap() + 8..][..64], &prev);
        l.insert(6, forged);
    });
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 7 was inserted"), "{err}");

    // Two lines swapped.
    let (code, err) = verify_copy(&node, |l| l.swap(8, 9));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("line 9: expected entry 9, found entry 10"),
        "{err}"
    );

    // The tail cut below the last checkpoint.
    let (code, err) = verify_copy(&node, |l| l.truncate(l.len() - 3));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("truncated"), "{err}");

    // A checkpoint's signature changed.
    let (code, err) = verify_copy(&node, |l| {
        let at = l.iter().position(|x| x.contains("\"checkpoint\"")).unwrap();
        l[at] = l[at].replacen("department ", "department x", 1);
    });
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("checkpoint"), "{err}");

    // The node refuses to go on writing a log cut below its checkpoint.
    let mut all = lines(&node.data.join("audit.log"));
    all.truncate(all.len() - 2);
    write_lines(&node.data.join("audit.log"), &all);
    let out = node.cmd().args(["child", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut short"));
}

fn audit_hash(line: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(line.as_bytes()))
}

#[test]
fn checkpoints_verify_with_ssh_keygen() {
    let node = busy_node();
    let card: serde_json::Value =
        serde_json::from_slice(&fs::read(node.data.join("card.json")).unwrap()).unwrap();
    let dept = card["id"].as_str().unwrap();
    let key = card["ssh_public_key"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("allowed_signers");
    fs::write(
        &allowed,
        format!("{dept} namespaces=\"handover-audit\" {key}\n"),
    )
    .unwrap();
    let checkpoints: Vec<serde_json::Value> = lines(&node.data.join("audit.log"))
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("checkpoint").is_some())
        .collect();
    assert!(checkpoints.len() >= 3);
    for (i, cp) in checkpoints.iter().enumerate() {
        let msg = dir.path().join(format!("msg{i}"));
        let sig = dir.path().join(format!("sig{i}"));
        fs::write(&msg, cp["checkpoint"].as_str().unwrap()).unwrap();
        fs::write(&sig, cp["signature"].as_str().unwrap()).unwrap();
        let verify = |msg: &Path| {
            StdCommand::new("ssh-keygen")
                .args(["-Y", "verify", "-n", "handover-audit", "-I", dept, "-f"])
                .arg(&allowed)
                .arg("-s")
                .arg(&sig)
                .stdin(fs::File::open(msg).unwrap())
                .output()
                .unwrap()
        };
        let out = verify(&msg);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = fs::read_to_string(&msg)
            .unwrap()
            .replacen("seq ", "seq 1", 1);
        fs::write(&msg, text).unwrap();
        assert!(
            !verify(&msg).status.success(),
            "a changed checkpoint must not verify"
        );
    }
}

#[test]
fn a_log_that_cannot_be_written_stops_the_read_before_any_byte() {
    let node = Node::init();
    let child = created_id(
        node.cmd()
            .args(["child", "add", "--name", "Zqxmarker Full"]),
    );
    let file = node.file("a.pdf", &pdf(50_000, "full"));
    let doc = created_id(
        node.cmd()
            .args(["doc", "put", &child, "--kind", "fir"])
            .arg(&file),
    );
    // Every write to the log now fails with "no space left on device".
    fs::remove_file(node.data.join("audit.log")).unwrap();
    fs::remove_file(node.data.join("audit.head")).unwrap();
    std::os::unix::fs::symlink("/dev/full", node.data.join("audit.log")).unwrap();

    let out = node
        .cmd()
        .args(["doc", "get", &doc, "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "bytes left without an audit entry");
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit log cannot be written"));

    let saved = node.path("out.pdf");
    let out = node
        .cmd()
        .args(["doc", "get", &doc, "-o"])
        .arg(&saved)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(!saved.exists() && !node.path("out.pdf.partial").exists());

    let out = node.cmd().args(["child", "show", &child]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
}

fn entry(i: usize) -> Entry {
    Entry {
        who: format!("user:{i}"),
        role: "cwc_member".into(),
        action: "read_document".into(),
        decision: Outcome::Allow,
        child: Some(uuid_like(i)),
        document: None,
        target: None,
        grant: None,
        purpose: None,
        policies: vec![],
    }
}

fn uuid_like(i: usize) -> String {
    format!("00000000-0000-7000-8000-{i:012}")
}

#[test]
fn concurrent_writers_in_two_handles_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(NodeKeys::generate("test").unwrap());
    let public = keys.signing_key().public_key().clone();
    {
        // Two handles on one file stand for two processes (flock is per open file).
        let a = Arc::new(AuditLog::open(dir.path(), keys.clone(), "test-dept", 7).unwrap());
        let b = Arc::new(AuditLog::open(dir.path(), keys.clone(), "test-dept", 7).unwrap());
        std::thread::scope(|s| {
            for t in 0..8 {
                let log = if t % 2 == 0 { a.clone() } else { b.clone() };
                s.spawn(move || {
                    for i in 0..50 {
                        log.append(entry(t * 1000 + i)).unwrap();
                    }
                });
            }
        });
    }
    let v = audit::verify(
        &dir.path().join(audit::LOG_FILE),
        Some(&dir.path().join(audit::HEAD_FILE)),
        std::slice::from_ref(&public),
        "test-dept",
    )
    .unwrap();
    assert_eq!(v.lines - v.checkpoints, 400);
    // Each handle counts its own entries since the last checkpoint it saw.
    assert!(v.checkpoints >= 400 / 14, "{v:?}");
    assert_eq!(v.unsigned_tail, 0, "shutdown writes a last checkpoint");
    let mut history = Vec::new();
    audit::scan_from(&dir.path().join(audit::LOG_FILE), 0, |line| {
        if line.child.as_deref() == Some(uuid_like(3005).as_str()) {
            history.push(line.seq);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(history.len(), 1);
}

/// The process dies at each step of replacing `audit.head` (debug builds
/// honour `HANDOVER_TEST_CRASH_AT`); afterwards the log opens, verifies
/// and takes new entries.
#[test]
fn dying_at_any_step_of_writing_the_checkpoint_head_leaves_a_log_that_opens_and_verifies() {
    use std::os::unix::process::ExitStatusExt;
    let node = busy_node();
    for step in ["written", "synced", "renamed"] {
        let before = lines(&node.data.join("audit.log")).len();
        let out = node
            .cmd()
            .env("HANDOVER_TEST_CRASH_AT", format!("audit.head:{step}"))
            .args(["child", "add", "--name", "Zqxmarker Crash"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGABRT),
            "{step}: the process should have died writing the head: {:?}",
            out.status
        );
        assert!(lines(&node.data.join("audit.log")).len() > before, "{step}");
        let verify = node.cmd().args(["audit", "verify"]).output().unwrap();
        assert!(
            verify.status.success(),
            "{step}: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
        run_ok(
            node.cmd()
                .args(["child", "add", "--name", "Zqxmarker After"]),
        );
        run_ok(node.cmd().args(["audit", "verify"]));
    }
}

/// `seal` (what a backup copies up to) ends the log with a signed
/// checkpoint and returns, whoever wrote the last line: this handle,
/// another one, or nobody yet; and it never writes a second checkpoint
/// after one.
#[test]
fn seal_ends_with_a_checkpoint_whoever_wrote_the_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(NodeKeys::generate("test").unwrap());
    let public = keys.signing_key().public_key().clone();
    let a = AuditLog::open(dir.path(), keys.clone(), "test-dept", 1000).unwrap();
    let b = AuditLog::open(dir.path(), keys.clone(), "test-dept", 1000).unwrap();
    // An empty log gets its first line, a checkpoint.
    let first = b.seal().unwrap();
    assert_eq!(first.seq, 1);
    a.append(entry(1)).unwrap();
    a.checkpoint().unwrap();
    // The last line is a checkpoint another handle wrote: nothing is added.
    let len = std::fs::metadata(dir.path().join(audit::LOG_FILE))
        .unwrap()
        .len();
    let sealed = b.seal().unwrap();
    assert_eq!((sealed.seq, sealed.len), (3, len));
    // After an entry, a checkpoint is written and covers it.
    a.append(entry(2)).unwrap();
    let sealed = b.seal().unwrap();
    assert_eq!(sealed.seq, 5);
    let v = audit::verify(
        &dir.path().join(audit::LOG_FILE),
        Some(&dir.path().join(audit::HEAD_FILE)),
        std::slice::from_ref(&public),
        "test-dept",
    )
    .unwrap();
    assert_eq!((v.lines, v.last_checkpoint), (5, 5));
}
