//! Backups of a node holding many GiB of documents, with the real
//! `handover` binary (not a timed test): the first backup, an incremental
//! one after 100 new documents, and a restore, each with its wall time and
//! peak RSS; and, for the restore, the speed of copying the same objects
//! with `cp -r` and `sync` on the same disk. Figures go in
//! docs/PERFORMANCE.md.
//!
//! `cargo bench --profile dev --bench backup [-- TOTAL_GIB DOC_MIB]`
//! (defaults 10 and 256: forty documents of 256 MiB). `BENCH_DIR` picks
//! the directory (default the system's temporary one); it needs about
//! three times TOTAL_GIB free. Synthetic documents only.

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const MIB: u64 = 1 << 20;

fn handover(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_handover"));
    cmd.arg("--data-dir").arg(data);
    for (k, _) in std::env::vars() {
        if k.starts_with("HANDOVER_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn run(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A synthetic PDF of `len` bytes, written without holding it in memory.
fn write_pdf(path: &Path, len: u64, salt: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let head = format!("%PDF-1.4\n% synthetic bench document {salt}\n");
    f.write_all(head.as_bytes()).unwrap();
    let block: Vec<u8> = (0..MIB).map(|i| b'a' + ((i + salt) % 26) as u8).collect();
    let mut left = len - head.len() as u64 - 7;
    while left > 0 {
        let n = left.min(MIB) as usize;
        f.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    f.write_all(b"\n%%EOF\n").unwrap();
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let total_gib: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
    let doc_mib: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(256);
    let dir =
        std::env::var("BENCH_DIR").unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let tmp = tempfile::tempdir_in(dir).unwrap();
    let data = tmp.path().join("node");
    let set = tmp.path().join("backups");
    let rss = tmp.path().join("rss");
    let mut init = handover(&data);
    init.args(["init", "--department", "bench-dcpu", "--name", "Bench DCPU"]);
    run(init);
    let mut add = handover(&data);
    add.args([
        "child",
        "add",
        "--name",
        "Synthetic Bench Child",
        "--institution",
        "home-1",
    ]);
    let child = run(add);
    let count = total_gib * 1024 / doc_mib;
    let t = Instant::now();
    let file = tmp.path().join("doc.pdf");
    for i in 0..count {
        write_pdf(&file, doc_mib * MIB, i);
        let mut put = handover(&data);
        put.args(["doc", "put", &child, "--kind", "medical_report"])
            .arg(&file);
        run(put);
    }
    std::fs::remove_file(&file).unwrap();
    println!(
        "set-up: {count} documents of {doc_mib} MiB ({:.1} GiB) stored in {:.0} s",
        gib(count * doc_mib * MIB),
        t.elapsed().as_secs_f64()
    );

    let mut first = handover(&data);
    first.arg("backup").arg("--to").arg(&set).arg("--json");
    let (out, secs, peak) = common::timed(first, &rss);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let copied = report["bytes_copied"].as_u64().unwrap();
    println!(
        "first backup: {:.1} s, {:.2} GiB copied ({:.0} MiB/s), peak RSS {peak:.1} MiB",
        secs,
        gib(copied),
        copied as f64 / MIB as f64 / secs
    );

    let small = tmp.path().join("small.pdf");
    for i in 0..100 {
        write_pdf(&small, 200 * 1024, 1000 + i);
        let mut put = handover(&data);
        put.args(["doc", "put", &child, "--kind", "fir"])
            .arg(&small);
        run(put);
    }
    let mut next = handover(&data);
    next.arg("backup").arg("--to").arg(&set).arg("--json");
    let (out, secs, peak) = common::timed(next, &rss);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!(
        "incremental backup after 100 new documents: {:.2} s ({} objects copied, {} kept), peak RSS {peak:.1} MiB",
        secs, report["objects_copied"], report["objects_kept"]
    );
    let newest = report["path"].as_str().unwrap().to_string();

    // The disk's copy speed for the same bytes: cp -r, then sync.
    let objects = set.join("objects");
    let copy = tmp.path().join("copy");
    let t = Instant::now();
    assert!(Command::new("cp")
        .arg("-r")
        .arg(&objects)
        .arg(&copy)
        .status()
        .unwrap()
        .success());
    assert!(Command::new("sync")
        .arg("-f")
        .arg(&copy)
        .status()
        .unwrap()
        .success());
    let cp_secs = t.elapsed().as_secs_f64();
    let bytes: u64 = common_bytes(&copy);
    std::fs::remove_dir_all(&copy).unwrap();
    println!(
        "cp -r + sync of the {:.2} GiB of objects: {:.1} s ({:.0} MiB/s)",
        gib(bytes),
        cp_secs,
        bytes as f64 / MIB as f64 / cp_secs
    );

    let restored = tmp.path().join("restored");
    let mut restore = handover(&restored);
    restore
        .args(["restore", "--from"])
        .arg(&newest)
        .arg("--keys")
        .arg(&data);
    let (_, secs, peak) = common::timed(restore, &rss);
    println!(
        "restore: {:.1} s ({:.0} MiB/s, {:.0}% of cp's speed), peak RSS {peak:.1} MiB",
        secs,
        bytes as f64 / MIB as f64 / secs,
        100.0 * cp_secs / secs
    );
}

fn common_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            common_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}
