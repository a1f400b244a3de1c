//! Benchmark of the access gate (issue 5):
//!
//! * `authorize` with the real (built-in) policy set: a mix of requests by
//!   every role on children, documents and the node, with grant context,
//!   each building its entities (principal, child, document) as the vault
//!   does; per-call latency, p50 and p99.
//! * Durable audit appends with 16 concurrent writers (group commit):
//!   appends per second, on the disk of the working directory.
//!
//! Run: `cargo bench --bench policy_audit` (optionally `-- CALLS APPENDS_PER_WRITER DIR`).

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use handover::audit::{AuditLog, Entry, Outcome};
use handover::crypto::NodeKeys;
use handover::domain::{
    ChildId, DocKind, DocumentId, GrantId, Principal, Purpose, Role, User, UserId,
};
use handover::policy::{Action, ChildFacts, DocumentFacts, GrantFacts, Policies, Resource};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let calls: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let per_writer: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let dir = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "target/bench-audit".into());
    authorize_bench(calls);
    audit_bench(per_writer, &dir);
}

fn users() -> Vec<Principal> {
    let mk = |role: Role, scope: &str| {
        Principal::User(User {
            id: UserId::new(),
            name: "bench".into(),
            role,
            scope: scope.parse().unwrap(),
            disabled: false,
            has_password: true,
            must_change_password: false,
            created_at: Utc::now(),
        })
    };
    vec![
        mk(Role::ShelterStaff, "institution:cci-a"),
        mk(Role::CwcMember, "district:bihar/patna"),
        mk(Role::DcpuOfficer, "district:bihar/patna"),
        mk(Role::SwdOfficer, "department:br-swd-patna"),
        mk(Role::SupportPerson, "department:br-swd-patna"),
        mk(Role::Admin, "department:br-swd-patna"),
        Principal::LocalOperator,
    ]
}

fn authorize_bench(calls: usize) {
    let start = Instant::now();
    let policies = Policies::load(None, "br-swd-patna").unwrap();
    println!(
        "policy load (parse + validate {} built-in policies): {:.1} ms",
        policies.len(),
        start.elapsed().as_secs_f64() * 1e3
    );
    let users = users();
    let children: Vec<ChildFacts> = (0..64)
        .map(|i| ChildFacts {
            id: ChildId::new(),
            institution: Some(if i % 2 == 0 { "cci-a" } else { "cci-b" }.into()),
            district: Some(
                if i % 3 == 0 {
                    "bihar/patna"
                } else {
                    "bihar/gaya"
                }
                .into(),
            ),
            transferred_in: i % 4 == 0,
        })
        .collect();
    let grant = GrantFacts {
        id: GrantId::new(),
        child: children[0].id,
        kinds: vec![
            DocKind::Fir,
            DocKind::MedicalReport,
            DocKind::BankAccount,
            DocKind::Identity,
        ],
        purpose: Purpose::CompensationClaim,
        until: Utc::now() + Duration::days(30),
    };
    let kinds = DocKind::ALL;
    let mut latencies = Vec::with_capacity(calls);
    let mut allowed = 0usize;
    let now = Utc::now();
    for i in 0..calls {
        let who = &users[i % users.len()];
        let child = &children[(i / 7) % children.len()];
        let (action, resource) = match i % 5 {
            0 | 1 => (
                Action::ReadDocument,
                Resource::Document(
                    child.clone(),
                    DocumentFacts {
                        id: DocumentId::new(),
                        kind: kinds[i % kinds.len()],
                    },
                ),
            ),
            2 => (Action::ReadRecord, Resource::Child(child.clone())),
            3 => (Action::AddDocument, Resource::Child(child.clone())),
            _ => (Action::ListChildren, Resource::Node),
        };
        let g =
            matches!(who, Principal::User(u) if u.role == Role::SupportPerson).then_some(&grant);
        let t = Instant::now();
        let d = policies.authorize(who, action, &resource, g, now);
        latencies.push(t.elapsed());
        allowed += d.allowed as usize;
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "authorize: {calls} calls ({allowed} allowed), {} policies: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        policies.len(),
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        latencies.last().unwrap().as_secs_f64() * 1e6
    );
}

fn audit_bench(per_writer: usize, dir: &str) {
    let dir = std::path::Path::new(dir);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let keys = Arc::new(NodeKeys::generate("bench").unwrap());
    let log = Arc::new(AuditLog::open(dir, keys, "bench-dept", 1000).unwrap());
    let writers = 16;
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let log = log.clone();
            s.spawn(move || {
                for i in 0..per_writer {
                    log.append(Entry {
                        who: format!("user:{w}"),
                        role: "cwc_member".into(),
                        action: "read_document".into(),
                        decision: Outcome::Allow,
                        child: Some(ChildId::new().to_string()),
                        document: Some(DocumentId::new().to_string()),
                        target: None,
                        grant: None,
                        purpose: Some("restoration".into()),
                        policies: vec![format!("cwc_member.cedar#{}", i % 3)],
                    })
                    .unwrap();
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let total = writers * per_writer;
    println!(
        "audit: {total} durable appends by {writers} writers in {secs:.2} s: {:.0} appends/s (in {})",
        total as f64 / secs,
        dir.display()
    );
    drop(log);
    let _ = std::fs::remove_dir_all(dir);
}
