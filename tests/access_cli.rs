//! Users, tokens, grants and policies from the command line, end to end:
//! what each command prints, and that its effect holds at once.

mod common;

use std::fs;

use common::{created_id, pdf, run_ok, stdout_line, Node};

fn token_for(node: &Node, user: &str) -> String {
    stdout_line(
        &run_ok(
            node.cmd()
                .args(["token", "create", user, "--expires", "1h"]),
        )
        .stdout,
    )
}

#[test]
fn users_tokens_and_grants_take_effect_at_once() {
    let node = Node::init();
    let child = created_id(node.cmd().args([
        "child",
        "add",
        "--name",
        "Zqxmarker Cli",
        "--institution",
        "cci-a",
    ]));
    let file = node.file("fir.pdf", &pdf(4_000, "fir"));
    let fir = created_id(
        node.cmd()
            .args(["doc", "put", &child, "--kind", "fir"])
            .arg(&file),
    );
    let file = node.file("med.pdf", &pdf(4_000, "medical"));
    let medical = created_id(
        node.cmd()
            .args(["doc", "put", &child, "--kind", "medical_report"])
            .arg(&file),
    );

    // Passwords: Argon2id, too short refused, read from stdin.
    let out = node
        .cmd()
        .args([
            "user",
            "add",
            "short",
            "--role",
            "admin",
            "--scope",
            "department:x",
            "--password-stdin",
        ])
        .write_stdin("tooshort\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    created_id(
        node.cmd()
            .args([
                "user",
                "add",
                "boss",
                "--role",
                "admin",
                "--scope",
                "department:x",
                "--password-stdin",
            ])
            .write_stdin("a long enough passphrase\n"),
    );
    created_id(node.cmd().args([
        "user",
        "add",
        "ngo",
        "--role",
        "support_person",
        "--scope",
        "department:x",
        "--no-password",
    ]));
    let out = node
        .cmd()
        .args([
            "user",
            "add",
            "ngo",
            "--role",
            "admin",
            "--scope",
            "department:x",
            "--no-password",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a second user of the same name is refused"
    );
    let list =
        String::from_utf8(run_ok(node.cmd().args(["user", "list", "--json"])).stdout).unwrap();
    assert!(list.contains("\"boss\"") && list.contains("\"ngo\""));
    assert!(!list.contains("argon2"), "no password hash is listed");

    // No token for an account with a password, but by its user (separation
    // of duties): an admin's scripts use a token-only account.
    let out = node
        .cmd()
        .args(["token", "create", "boss", "--expires", "1h"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("separation of duties"));
    created_id(node.cmd().args([
        "user",
        "add",
        "boss-svc",
        "--role",
        "admin",
        "--scope",
        "department:x",
        "--no-password",
    ]));

    // The admin's token administers but reads no child's papers.
    let admin = token_for(&node, "boss-svc");
    run_ok(node.cmd().args(["--token", &admin, "user", "list"]));
    let out = node
        .cmd()
        .args(["--token", &admin, "doc", "get", &fir, "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("no document with id {fir}")));

    let until = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    // The support person: nothing without a grant, the granted kind with
    // one, nothing again once it is revoked.
    let ngo = token_for(&node, "ngo");
    let get = |id: &str| {
        node.cmd()
            .args(["--token", &ngo, "doc", "get", id, "-o", "-"])
            .output()
            .unwrap()
    };
    assert_eq!(get(&fir).status.code(), Some(1));
    let grant = created_id(node.cmd().args([
        "grant",
        "add",
        "--to",
        "ngo",
        "--child",
        &child,
        "--kinds",
        "fir",
        "--purpose",
        "compensation_claim",
        "--until",
        &until,
    ]));
    let out = get(&fir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, fs::read(node.path("fir.pdf")).unwrap());
    assert_eq!(get(&medical).status.code(), Some(1), "a kind not granted");
    let listed =
        String::from_utf8(run_ok(node.cmd().args(["grant", "list", "--child", &child])).stdout)
            .unwrap();
    assert!(
        listed.contains(&grant) && listed.contains("active"),
        "{listed}"
    );
    run_ok(node.cmd().args(["grant", "revoke", &grant]));
    assert_eq!(get(&fir).status.code(), Some(1), "revoked at once");
    let listed = String::from_utf8(run_ok(node.cmd().args(["grant", "list"])).stdout).unwrap();
    assert!(listed.contains("revoked"), "{listed}");

    // Grants end in the future, name real kinds, and go to support persons.
    for (bad, why) in [
        (
            vec!["--to", "ngo", "--kinds", "fir", "--until", "2001-01-01"],
            "in the future",
        ),
        (
            vec!["--to", "ngo", "--kinds", "fir", "--until", "2099-01-01"],
            "within 366 days",
        ),
        (
            vec!["--to", "ngo", "--kinds", "passport", "--until", &until],
            "passport",
        ),
        (
            vec!["--to", "boss", "--kinds", "fir", "--until", &until],
            "support persons",
        ),
    ] {
        let out = node
            .cmd()
            .args([
                "grant",
                "add",
                "--child",
                &child,
                "--purpose",
                "compensation_claim",
            ])
            .args(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(why),
            "{bad:?}"
        );
    }

    // Revoking a token and disabling a user stop them at once.
    let tokens =
        String::from_utf8(run_ok(node.cmd().args(["token", "list", "ngo", "--json"])).stdout)
            .unwrap();
    let tokens: serde_json::Value = serde_json::from_str(&tokens).unwrap();
    let id = tokens[0]["id"].as_str().unwrap().to_string();
    run_ok(node.cmd().args(["token", "revoke", &id]));
    let out = node
        .cmd()
        .args(["--token", &ngo, "child", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid or expired credentials"));
    run_ok(node.cmd().args(["user", "disable", "boss-svc"]));
    let out = node
        .cmd()
        .args(["--token", &admin, "user", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = node
        .cmd()
        .env("HANDOVER_TOKEN", "hov_made_up")
        .args(["child", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn broken_policies_stop_the_node_naming_file_and_line() {
    let node = Node::init();
    let dir = node.path("policies");
    fs::create_dir_all(&dir).unwrap();
    for e in fs::read_dir(common::bundles::repo("policies")).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let out = run_ok(node.cmd().args(["policy", "check"]).arg(&dir));
    assert!(String::from_utf8_lossy(&out.stdout).contains("25 policies"));

    fs::write(
        dir.join("local.cedar"),
        "// local rule\npermit (principal, action, resource)\nwhen { resource.colour == \"red\" };\n",
    )
    .unwrap();
    let out = node
        .cmd()
        .args(["policy", "check"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("local.cedar:3:"), "{err}");

    // The node does not start on them: fail closed, nothing done.
    let before = fs::read(node.data.join("audit.log")).unwrap_or_default();
    let out = node
        .cmd()
        .env("HANDOVER_POLICIES_DIR", &dir)
        .args(["child", "add", "--name", "Zqxmarker"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("local.cedar:3:"));
    assert_eq!(
        fs::read(node.data.join("audit.log")).unwrap_or_default(),
        before
    );
    let list = run_ok(node.cmd().args(["child", "list"]));
    assert!(list.stdout.is_empty(), "no child was added");
}
