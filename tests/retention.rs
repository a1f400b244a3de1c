//! Case states and retention: `child state`, `retention report` and
//! `retention apply` with rules from a policies directory. What is due is
//! erased (the whole record, or documents of the kinds a rule names),
//! audited; what is not due is untouched. Synthetic data only.

mod common;

use common::{pdf, run_ok, Node};
use serde_json::Value;

const RULES: &str = r#"
[[rule]]
state = "closed"
after_days = 0

[[rule]]
state = "restored"
after_days = 0
kinds = ["medical_report"]

[[rule]]
state = "in_care"
after_years = 100
"#;

#[test]
fn states_are_recorded_and_what_falls_due_is_erased_and_nothing_else() {
    let node = Node::init();
    let policies = node.path("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for e in std::fs::read_dir(common::bundles::repo("policies")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, policies.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(policies.join("retention.toml"), RULES).unwrap();
    let cmd = || {
        let mut c = node.cmd();
        c.env("HANDOVER_POLICIES_DIR", &policies);
        c
    };
    let child = |name: &str| {
        common::created_id(cmd().args([
            "child",
            "add",
            "--name",
            name,
            "--institution",
            "home-1",
            "--district",
            "rajasthan/jaipur",
        ]))
    };
    let put = |c: &str, kind: &str, marker: &str| {
        let f = node.file(&format!("{marker}.pdf"), &pdf(20_000, marker));
        common::created_id(cmd().args(["doc", "put", c, "--kind", kind]).arg(&f))
    };
    let (closed, restored, in_care) = (
        child("Synthetic Closed"),
        child("Synthetic Restored"),
        child("Synthetic In Care"),
    );
    let closed_doc = put(&closed, "fir", "c1");
    let kept_doc = put(&restored, "fir", "r1");
    let medical = put(&restored, "medical_report", "r2");
    let care_doc = put(&in_care, "fir", "i1");

    // Who records a state: the district's CWC or DCPU, not shelter staff.
    let token = |name: &str, role: &str, scope: &str| node.token(name, role, scope);
    let staff = token("staff1", "shelter_staff", "institution:home-1");
    let out = cmd()
        .args(["--token", &staff, "child", "state", &closed, "closed"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "shelter staff may not");
    let dcpu = token("dcpu1", "dcpu_officer", "district:rajasthan/jaipur");
    run_ok(cmd().args(["--token", &dcpu, "child", "state", &closed, "closed"]));
    let cwc = token("cwc1", "cwc_member", "district:rajasthan/jaipur");
    run_ok(cmd().args(["--token", &cwc, "child", "state", &restored, "restored"]));
    let out = cmd()
        .args(["child", "state", &in_care, "finished"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "an unknown state is refused");
    let shown = common::stdout_line(&run_ok(cmd().args(["child", "state", &closed])).stdout);
    assert!(shown.starts_with("closed\t"), "{shown}");

    // The report: what is due and what is not, ids only.
    let out = run_ok(cmd().args(["retention", "report", "--json"]));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = report.to_string();
    assert!(!text.contains("Synthetic"), "no names in the report");
    let item = |c: &str| {
        report
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["child_id"] == c)
            .cloned()
    };
    let a = item(&closed).unwrap();
    assert_eq!(
        (a["is_due"].as_bool(), a["whole_record"].as_bool()),
        (Some(true), Some(true))
    );
    let b = item(&restored).unwrap();
    assert_eq!(b["documents"], serde_json::json!([medical]));
    assert_eq!(b["is_due"], true);
    let c = item(&in_care).unwrap();
    assert_eq!(c["is_due"], false);
    let due = chrono::DateTime::parse_from_rfc3339(c["due"].as_str().unwrap()).unwrap();
    assert!(due.year_of() >= 2126, "{due}");

    // Applying erases what is due, and only that.
    let out = run_ok(cmd().args(["retention", "apply", "--json"]));
    let applied: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(applied["children_erased"], serde_json::json!([closed]));
    assert_eq!(applied["documents_erased"], serde_json::json!([medical]));
    for gone in [&closed_doc, &medical] {
        let out = cmd()
            .args(["doc", "get", gone, "-o", "-"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{gone} erased");
    }
    let out = cmd().args(["child", "show", &closed]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    for kept in [&kept_doc, &care_doc] {
        run_ok(cmd().args(["doc", "get", kept, "-o", "-"]));
    }
    assert_eq!(node.doc_ids(&restored), vec![kept_doc.clone()]);
    run_ok(cmd().arg("check"));
    let log = std::fs::read_to_string(node.data.join("audit.log")).unwrap();
    assert!(log.contains("\"action\":\"retention_erase_child\""));
    assert!(log.contains("\"action\":\"retention_erase_document\""));
    assert_eq!(log.matches("\"action\":\"change_case_state\"").count(), 3);
    run_ok(cmd().args(["audit", "verify"]));
    // Nothing more is due.
    let out = run_ok(cmd().args(["retention", "apply", "--json"]));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["children_erased"], serde_json::json!([]));
    assert_eq!(again["documents_erased"], serde_json::json!([]));
}

trait YearOf {
    fn year_of(&self) -> i32;
}

impl YearOf for chrono::DateTime<chrono::FixedOffset> {
    fn year_of(&self) -> i32 {
        use chrono::Datelike;
        self.year()
    }
}
