//! Names and document contents appear nowhere in clear: not in any file
//! under the data directory, not in logs or error messages.

mod common;

use common::{files_containing, pdf, Node};

const NAME: &str = "Zqxmarkername Childname";
const FIELDS: &[&str] = &[
    "Zqxmarkernotes",
    "Zqxmarkerplace",
    "Zqxmarkertitle",
    "Zqxmarkerfile",
];
const CONTENT: &str = "Zqxmarkercontent";

#[test]
fn planted_markers_appear_nowhere_in_clear() {
    let node = Node::init();
    let mut stderr = Vec::new();
    let mut run = |args: &[&str], stdin: Option<Vec<u8>>| {
        let mut cmd = node.cmd();
        cmd.env("HANDOVER_LOG", "trace").args(args);
        if let Some(s) = stdin {
            cmd.write_stdin(s);
        }
        let out = cmd.output().unwrap();
        stderr.extend_from_slice(&out.stderr);
        out
    };
    let out = run(
        &[
            "child",
            "add",
            "--name",
            NAME,
            "--notes",
            FIELDS[0],
            "--rescue-place",
            FIELDS[1],
        ],
        None,
    );
    let child = common::stdout_line(&out.stdout);
    let pdf_file = node.file(&format!("{}.pdf", FIELDS[3]), &pdf(200_000, CONTENT));
    let out = run(
        &[
            "doc",
            "put",
            &child,
            "--kind",
            "fir",
            "--title",
            FIELDS[2],
            pdf_file.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success());
    let text = format!("{CONTENT} {NAME}\n").repeat(1000).into_bytes();
    let out = run(
        &[
            "doc", "put", &child, "--kind", "other", "--title", FIELDS[2], "-",
        ],
        Some(text),
    );
    assert!(out.status.success());
    let doc = common::stdout_line(&out.stdout);
    // Reads, lists and failures log too.
    run(&["doc", "get", &doc, "-o", "-"], None);
    run(&["child", "show", &child], None);
    run(&["doc", "list", &child], None);
    run(&["check"], None);
    run(
        &["doc", "put", &child, "--kind", "fir", "-"],
        Some(b"not a scan".to_vec()),
    );
    run(&["child", "edit", &child, "--dob", "2999-01-01"], None);
    // A user outside the child's scope is refused; the refusals and the
    // access history name no one.
    run(
        &[
            "user",
            "add",
            "outsider",
            "--role",
            "shelter_staff",
            "--scope",
            "institution:elsewhere",
            "--no-password",
        ],
        None,
    );
    let token = common::stdout_line(&run(&["token", "create", "outsider"], None).stdout);
    for args in [
        vec!["child", "show", child.as_str()],
        vec!["doc", "get", doc.as_str(), "-o", "-"],
        vec!["doc", "list", child.as_str()],
        vec!["child", "list"],
    ] {
        let mut all = vec!["--token", token.as_str()];
        all.extend(args);
        let out = run(&all, None);
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Zqxmarker"));
    }
    let history = run(&["audit", "log", "--child", &child, "--json"], None);
    let history = String::from_utf8_lossy(&history.stdout).into_owned();
    assert!(
        history.contains("\"deny\"") && history.contains("read_document"),
        "{history}"
    );
    assert!(!history.contains("Zqxmarker"));
    let audit_log = std::fs::read_to_string(node.data.join("audit.log")).unwrap();
    assert!(audit_log.lines().count() > 10, "the audit log was written");

    let stderr = String::from_utf8_lossy(&stderr);
    assert!(
        stderr.contains("document stored"),
        "logging was on: {stderr}"
    );
    for marker in [NAME, CONTENT, "Zqxmarker"].iter().chain(FIELDS) {
        let found = files_containing(&node.data, marker.as_bytes());
        assert!(found.is_empty(), "{marker} in clear in {found:?}");
        assert!(!stderr.contains(marker), "{marker} in logs or errors");
    }
}
