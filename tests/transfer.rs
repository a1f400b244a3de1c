//! The transfer workflow from the command line, with the demo departments:
//! drafted by shelter staff, submitted (with a CWC override while the
//! checklist has gaps), approved by the CWC with the restoration order,
//! sent as a bundle, imported at the destination, and delivered when the
//! receipt is verified; revocation and rejection close a transfer.

mod common;

use common::bundles::{two_nodes, DEST};
use common::{created_id, pdf, run_ok, Node};

fn token(node: &Node, name: &str, role: &str, scope: &str) -> String {
    node.token(name, role, scope)
}

fn state(node: &Node, t: &str) -> String {
    let out = run_ok(node.cmd().args(["transfer", "show", t, "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["state"].as_str().unwrap().to_string()
}

#[test]
fn a_transfer_goes_from_draft_to_delivered() {
    let (src, dst) = two_nodes();
    let child = created_id(src.cmd().args([
        "child",
        "add",
        "--name",
        "Zqxmarker Transfer",
        "--institution",
        "cci-r",
        "--district",
        "rajasthan/jaipur",
    ]));
    let file = src.file("fir.pdf", &pdf(3_000, "fir"));
    created_id(
        src.cmd()
            .args(["doc", "put", &child, "--kind", "fir"])
            .arg(&file),
    );
    let staff = token(&src, "staff", "shelter_staff", "institution:cci-r");
    let cwc = token(&src, "cwc", "cwc_member", "district:rajasthan/jaipur");
    let as_ = |t: &str| {
        let mut c = src.cmd();
        c.args(["--token", t]);
        c
    };

    let t = created_id(as_(&staff).args(["transfer", "create", &child, "--to", DEST]));
    assert_eq!(state(&src, &t), "draft");
    // The checklist has gaps: staff cannot submit; a CWC member may, with a reason.
    let out = as_(&staff)
        .args(["transfer", "submit", &t])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checklist is incomplete"));
    let out = as_(&staff)
        .args(["transfer", "submit", &t, "--override", "urgent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "only the CWC overrides");
    run_ok(as_(&cwc).args([
        "transfer",
        "submit",
        &t,
        "--override",
        "home visit done; papers follow",
    ]));
    assert_eq!(state(&src, &t), "submitted");
    // Only the CWC approves; sending waits for approval.
    let out = as_(&staff)
        .args(["transfer", "approve", &t, "--order", "RO/1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let bundle = src.path("t.bundle");
    let out = as_(&staff)
        .args(["transfer", "send", &t, "-o"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot send a submitted transfer"));
    assert!(!bundle.exists());
    run_ok(as_(&cwc).args(["transfer", "approve", &t, "--order", "CWC/JPR/RO/17/2026"]));
    run_ok(
        as_(&staff)
            .args(["transfer", "send", &t, "-o"])
            .arg(&bundle),
    );
    assert_eq!(state(&src, &t), "sent");
    // Sending puts the case in the `transferred` state (retention counts from it).
    let case = common::stdout_line(&run_ok(src.cmd().args(["child", "state", &child])).stdout);
    assert!(case.starts_with("transferred\t"), "{case}");
    let out = as_(&staff)
        .args(["transfer", "revoke", &t])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "too late to revoke");

    // The destination imports; the receipt marks the transfer delivered.
    let receipt = dst.path("receipt.json");
    run_ok(
        dst.cmd()
            .args(["bundle", "import"])
            .arg(&bundle)
            .arg("--receipt")
            .arg(&receipt),
    );
    run_ok(src.cmd().args(["receipt", "verify"]).arg(&receipt));
    let out = run_ok(src.cmd().args(["transfer", "show", &t, "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "delivered");
    let steps: Vec<_> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["step"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(steps, ["submit", "approve", "send", "deliver"]);
    assert_eq!(v["history"][1]["order_number"], "CWC/JPR/RO/17/2026");
    assert!(v["bundle_id"].is_string());

    // Every step is in the audit log, and the log verifies.
    let history =
        String::from_utf8(run_ok(src.cmd().args(["audit", "log", "--child", &child])).stdout)
            .unwrap();
    assert!(
        history.contains("approve_transfer") && history.contains("create_transfer"),
        "{history}"
    );
    run_ok(src.cmd().args(["audit", "verify"]));
}

#[test]
fn revoked_and_rejected_transfers_are_closed() {
    let (src, _dst) = two_nodes();
    let child = created_id(src.cmd().args([
        "child",
        "add",
        "--name",
        "Zqxmarker Closed",
        "--district",
        "rajasthan/jaipur",
    ]));
    let t = created_id(src.cmd().args(["transfer", "create", &child, "--to", DEST]));
    run_ok(src.cmd().args(["transfer", "revoke", &t]));
    assert_eq!(state(&src, &t), "revoked");
    let out = src
        .cmd()
        .args(["transfer", "submit", &t, "--override", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    let t = created_id(src.cmd().args(["transfer", "create", &child, "--to", DEST]));
    run_ok(
        src.cmd()
            .args(["transfer", "submit", &t, "--override", "papers follow"]),
    );
    let out = src
        .cmd()
        .args(["transfer", "reject", &t, "--reason", " "])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a rejection records its reason");
    run_ok(
        src.cmd()
            .args(["transfer", "reject", &t, "--reason", "family not traced"]),
    );
    assert_eq!(state(&src, &t), "rejected");
    let out = src
        .cmd()
        .args(["transfer", "approve", &t, "--order", "RO/2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // An unknown destination is refused at once.
    let out = src
        .cmd()
        .args(["transfer", "create", &child, "--to", "xx-unknown"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
