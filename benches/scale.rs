//! A node at national scale (issue 17): fills one node with synthetic
//! children (default 2,56,369, the number in care in the field documents)
//! spread over 7,466 institutions in 700 real districts, ten document rows
//! each, about a tenth of them transferred in, and an audit log of
//! 10,000,000 decisions about them (a valid chain with signed checkpoints
//! every 1,000 lines); then measures, through a real `handover serve`, for
//! a shelter staff member, a CWC member, a DCPU officer and an SWD officer:
//! the child page, a list page (50 rows), a name search and one child's
//! access history, each as p50 / p99 over sequential requests, and the
//! server's RSS. Also: the time to fill, the database and log sizes, the
//! time of the first open (which builds the access-history index from the
//! whole log) and of a later one.
//!
//! The rows are real (written by the store's own bulk insert, one
//! transaction per 5,000 children); the blobs are not written, since no
//! request here reads a document's bytes.
//!
//! `cargo bench --profile dev --bench scale [-- CHILDREN AUDIT_LINES REQUESTS]`
//! (defaults 256369 10000000 200). `HANDOVER_BIN` picks another binary.
//! Figures go in docs/PERFORMANCE.md.

#[allow(dead_code)]
mod common;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use handover::audit::{checkpoint_message, line_hash, Body, Checkpoint, Entry, Line, Outcome};
use handover::crypto::{self, KeyFiles, NodeKeys};
use handover::domain::{
    CaseRecord, Child, ChildId, DocKind, Document, DocumentId, MediaType, Origin,
};
use handover::store::{BlobKey, Db};

const INSTITUTIONS: usize = 7_466;
const DISTRICTS: usize = 700;
const DEPARTMENT: &str = "bench-swd";

/// A small deterministic generator (xorshift), so every run fills the same node.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const LATIN: &[&str] = &[
    "Asha", "Ravi", "Meena", "Suraj", "Pooja", "Arjun", "Kavita", "Rahul", "Sunita", "Vikram",
    "Anita", "Manoj", "Rekha", "Sanjay", "Geeta", "Deepak", "Priya", "Amit", "Neha", "Rohit",
];
const DEVANAGARI: &[&str] = &[
    "आशा",
    "रवि",
    "मीना",
    "सूरज",
    "पूजा",
    "अर्जुन",
    "कविता",
    "राहुल",
    "सुनीता",
    "विक्रम",
];
const FAMILY: &[&str] = &[
    "Kumar", "Kumari", "Yadav", "Paswan", "Manjhi", "Singh", "Devi", "Ram", "Das", "Mandal",
];

/// The first `n` district ids of the built-in list.
fn districts(n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/districts.toml"),
    )
    .unwrap();
    let table: toml::Table = text.parse().unwrap();
    let mut out = Vec::new();
    for (state, v) in table["state"].as_table().unwrap() {
        for d in v["districts"].as_table().unwrap().keys() {
            out.push(format!("{state}/{d}"));
        }
    }
    assert!(out.len() >= n, "only {} districts", out.len());
    out.truncate(n);
    out
}

fn institution_of(i: usize) -> usize {
    i % INSTITUTIONS
}

fn district_of(institution: usize) -> usize {
    institution % DISTRICTS
}

fn name(rng: &mut Rng) -> String {
    if rng.below(4) == 0 {
        format!(
            "{} {}",
            DEVANAGARI[rng.below(DEVANAGARI.len())],
            DEVANAGARI[rng.below(DEVANAGARI.len())]
        )
    } else {
        format!(
            "{} {} {}",
            LATIN[rng.below(LATIN.len())],
            FAMILY[rng.below(FAMILY.len())],
            rng.below(1000)
        )
    }
}

/// Fills the database: returns the children's ids in creation order.
fn fill_children(db: &Db, n: usize, districts: &[String]) -> Vec<ChildId> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Ten kinds of paper per child (every kind but `other`, which needs a
    // title, and two more).
    let kinds: Vec<DocKind> = DocKind::ALL
        .into_iter()
        .filter(|k| *k != DocKind::Other)
        .take(10)
        .collect();
    let now = Utc::now();
    let mut ids = Vec::with_capacity(n);
    let mut batch = Vec::with_capacity(5_000);
    for i in 0..n {
        let inst = institution_of(i);
        let id = ChildId::new();
        ids.push(id);
        let origin = i.is_multiple_of(10).then(|| Origin {
            source_department: "bench-dcpu".into(),
            bundle_id: uuid::Uuid::now_v7().to_string(),
            source_child_id: ChildId::new(),
            source_institution: None,
            source_district: None,
        });
        let child = Child {
            id,
            record: CaseRecord {
                name: name(&mut rng),
                institution: Some(format!("cci-{inst:05}")),
                district: Some(districts[district_of(inst)].clone()),
                home_state: Some("Bihar".into()),
                ..CaseRecord::default()
            },
            created_at: now,
            created_by: "local-operator".into(),
            updated_at: now,
            origin,
        };
        let documents = kinds
            .iter()
            .map(|kind| {
                let doc = Document {
                    id: DocumentId::new(),
                    child_id: id,
                    kind: *kind,
                    title: None,
                    file_name: None,
                    media_type: MediaType::Pdf,
                    size: 1024,
                    sha256: "ab".repeat(32),
                    added_by: "local-operator".into(),
                    added_at: now,
                };
                let key = BlobKey::for_document(doc.id);
                (doc, key)
            })
            .collect();
        batch.push((child, documents));
        if batch.len() == 5_000 {
            db.insert_children_bulk(&batch).unwrap();
            batch.clear();
        }
    }
    db.insert_children_bulk(&batch).unwrap();
    ids
}

/// Writes an audit log of `lines` decisions about the children, with a
/// signed checkpoint every 1,000 lines, exactly as the node writes them.
fn fill_audit(log: &Path, keys: &NodeKeys, children: &[ChildId], lines: u64) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(log).unwrap());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut prev = handover::audit::GENESIS.to_string();
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let actions = ["read_record", "read_document", "add_document", "edit_child"];
    let mut seq = 0u64;
    let mut entries = 0u64;
    while entries < lines {
        seq += 1;
        let time = start + chrono::Duration::milliseconds(seq as i64 * 3);
        let body = if seq.is_multiple_of(1001) {
            let message = checkpoint_message(DEPARTMENT, seq, &prev, &time);
            Body::Checkpoint(Checkpoint {
                signature: crypto::sign_in(keys, crypto::AUDIT_NAMESPACE, message.as_bytes()),
                checkpoint: message,
            })
        } else {
            entries += 1;
            Body::Entry(Entry {
                who: format!(
                    "user:{}",
                    uuid::Uuid::from_u64_pair(0, rng.below(5_000) as u64)
                ),
                role: "shelter_staff".into(),
                action: actions[rng.below(actions.len())].into(),
                decision: Outcome::Allow,
                child: Some(children[rng.below(children.len())].to_string()),
                document: None,
                target: None,
                grant: None,
                purpose: None,
                policies: vec!["shelter_staff.cedar#1".into()],
            })
        };
        let line = Line {
            seq,
            prev: prev.clone(),
            time,
            body,
        };
        let bytes = serde_json::to_vec(&line).unwrap();
        prev = line_hash(&bytes);
        out.write_all(&bytes).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
    // The node's copy of its last checkpoint is written by the node itself
    // at its next checkpoint; without it, verification checks the chain.
}

fn cli(bin: &str, data: &Path, args: &[&str]) -> (String, Duration) {
    let start = Instant::now();
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("HANDOVER_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap().trim().to_string(),
        start.elapsed(),
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn du(path: &Path) -> f64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as f64 / (1024.0 * 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args.first().map_or(256_369, |a| a.parse().unwrap());
    let audit_lines: u64 = args.get(1).map_or(10_000_000, |a| a.parse().unwrap());
    let requests: usize = args.get(2).map_or(200, |a| a.parse().unwrap());
    let bin =
        std::env::var("HANDOVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_handover").into());
    let dir = tempfile::Builder::new()
        .prefix("handover-scale")
        .tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "target".into()))
        .unwrap();
    let data = dir.path().join("node");
    cli(
        &bin,
        &data,
        &["init", "--department", DEPARTMENT, "--name", "Bench SWD"],
    );

    // Fill.
    let started = Instant::now();
    let keys = NodeKeys::load(&KeyFiles::new(&data), || None).unwrap();
    let districts = districts(DISTRICTS);
    let ids = {
        let db = Db::open(&data.join("meta.db"), keys.database_key(), false).unwrap();
        fill_children(&db, n, &districts)
    };
    let rows_time = started.elapsed();
    let log_start = Instant::now();
    std::fs::remove_file(data.join("audit.head")).ok();
    fill_audit(&data.join("audit.log"), &keys, &ids, audit_lines);
    let log_time = log_start.elapsed();
    println!(
        "fill: {n} children, {} document rows in {:.1} s; {audit_lines} audit decisions in {:.1} s",
        n * 10,
        rows_time.as_secs_f64(),
        log_time.as_secs_f64()
    );

    // Users of each role, scoped to the first institution's place.
    let inst = institution_of(0);
    let district = &districts[district_of(inst)];
    let roles = [
        (
            "staff",
            "shelter_staff",
            format!("institution:cci-{inst:05}"),
        ),
        ("cwc", "cwc_member", format!("district:{district}")),
        ("dcpu", "dcpu_officer", format!("district:{district}")),
        ("swd", "swd_officer", format!("department:{DEPARTMENT}")),
    ];
    let mut tokens = Vec::new();
    let mut opens = Vec::new();
    for (user, role, scope) in &roles {
        let (_, t) = cli(
            &bin,
            &data,
            &[
                "user",
                "add",
                user,
                "--role",
                role,
                "--scope",
                scope,
                "--no-password",
            ],
        );
        opens.push(t);
        let (token, _) = cli(&bin, &data, &["token", "create", user, "--expires", "30d"]);
        tokens.push(token);
    }
    println!(
        "open: first {:.1} s (builds the access-history index from the whole log), later {:.2} s",
        opens[0].as_secs_f64(),
        opens[1].as_secs_f64()
    );
    println!(
        "sizes: meta.db {:.0} MiB, audit.log {:.0} MiB",
        du(&data.join("meta.db")),
        du(&data.join("audit.log"))
    );

    let server = common::start(&bin, &data, &[]);
    let pid = server.process.id();
    let base = format!("http://127.0.0.1:{}/api/v1", server.port);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    println!(
        "server RSS after start: {:.1} MiB",
        common::vm_mib(pid, "VmRSS:")
    );

    // Which children each role sees (the bench knows how it placed them).
    let in_scope = |role: &str| -> Vec<ChildId> {
        ids.iter()
            .enumerate()
            .filter(|(i, _)| match role {
                "shelter_staff" => institution_of(*i) == inst,
                "cwc_member" | "dcpu_officer" => {
                    district_of(institution_of(*i)) == district_of(inst)
                }
                _ => i.is_multiple_of(10),
            })
            .map(|(_, id)| *id)
            .collect()
    };
    println!(
        "| role | children in scope | child page p50 / p99 | list page (50) p50 / p99 | name search p50 / p99 | access history (50) p50 / p99 |"
    );
    println!("|---|---|---|---|---|---|");
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for ((_, role, _), token) in roles.iter().zip(&tokens) {
        let scope = in_scope(role);
        let get = |path: &str| -> f64 {
            let t = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .unwrap();
            let status = r.status();
            let _ = r.bytes().unwrap();
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            assert!(status.is_success(), "{path}: {status}");
            ms
        };
        let mut measure = |path: &mut dyn FnMut(&mut Rng) -> String| -> (f64, f64) {
            let mut times: Vec<f64> = (0..requests).map(|_| get(&path(&mut rng))).collect();
            times.sort_by(f64::total_cmp);
            (percentile(&times, 0.5), percentile(&times, 0.99))
        };
        let child = measure(&mut |r| format!("/children/{}", scope[r.below(scope.len())]));
        let list = measure(&mut |r| {
            if r.below(2) == 0 {
                "/children?limit=50".into()
            } else {
                format!("/children?limit=50&after={}", scope[r.below(scope.len())])
            }
        });
        let search = measure(&mut |r| {
            let q = ["kum", "yadav", "आशा", "ra", "singh 4", "पूजा"][r.below(6)];
            format!("/children?limit=50&q={}", urlencode(q))
        });
        // Shelter staff may not read the access history (policies).
        let history = if *role == "shelter_staff" {
            "not theirs to read".to_string()
        } else {
            let h = measure(&mut |r| {
                format!(
                    "/children/{}/access-log?limit=50",
                    scope[r.below(scope.len())]
                )
            });
            format!("{:.1} / {:.1} ms", h.0, h.1)
        };
        println!(
            "| {role} | {} | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {history} |",
            scope.len(),
            child.0,
            child.1,
            list.0,
            list.1,
            search.0,
            search.1,
        );
    }
    println!(
        "server RSS: {:.1} MiB now, {:.1} MiB peak",
        common::vm_mib(pid, "VmRSS:"),
        common::vm_mib(pid, "VmHWM:")
    );
    let mut process = server.process;
    process.kill().ok();
    process.wait().ok();

    // `audit verify` on the whole log (and the index against it): time and
    // peak RSS of the command, which streams both.
    let mut verify = Command::new(&bin);
    verify
        .arg("--data-dir")
        .arg(&data)
        .args(["audit", "verify"])
        .env("HANDOVER_LOG", "warn");
    let (out, took, mib) = common::timed(verify, &dir.path().join("verify.rss"));
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!("audit verify: {took:.1} s, peak RSS {mib:.1} MiB");
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
