//! Runs docs/OPERATIONS.md: every `sh` block in order, in a scratch
//! directory standing in for the machine, against a real `handover serve`
//! (over TLS) and a second node standing in for another department
//! (`sh peer` blocks). The guide's first block names the places; here they
//! point into the scratch directory. Commands that change the host itself
//! are stand-ins written below (`useradd` and `chown` do nothing, `sudo -u
//! USER CMD` runs CMD without the caller's HANDOVER_* variables, as sudo's
//! env_reset does, and `systemctl` starts and stops `serve` as the unit
//! file says: its Environment= and EnvironmentFile= lines, its ExecStart).
//! The units are checked with `systemd-analyze verify`, which must print
//! nothing, and every metric the alert rules name must be in a real
//! scrape. Synthetic data only.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A fenced block of the guide: its info string and its text.
struct Block {
    info: String,
    text: String,
    line: usize,
}

fn blocks(guide: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = guide.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let mut text = String::new();
        for (_, l) in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            text.push_str(l);
            text.push('\n');
        }
        out.push(Block {
            info: info.trim().to_string(),
            text,
            line: n + 1,
        });
    }
    out
}

const SHIMS: &[(&str, &str)] = &[
    (
        "useradd",
        "#!/bin/bash\necho \"(stand-in) useradd $*\" >&2\n",
    ),
    ("chown", "#!/bin/bash\necho \"(stand-in) chown $*\" >&2\n"),
    (
        "sudo",
        r#"#!/bin/bash
# sudo -u USER CMD...: CMD without the caller's HANDOVER_* (env_reset).
while [[ "$1" == -* ]]; do
  case "$1" in -u) shift 2 ;; *) shift ;; esac
done
for v in $(compgen -e | grep '^HANDOVER_'); do unset "$v"; done
exec "$@"
"#,
    ),
    (
        "systemctl",
        r#"#!/bin/bash
# Starts and stops handover.service as its unit file says.
set -euo pipefail
unit="$UNIT_DIR/handover.service"
start() {
  (
    set -a
    for l in $(grep -E '^Environment=' "$unit" | cut -d= -f2-); do export "$l"; done
    for f in $(grep -E '^EnvironmentFile=' "$unit" | cut -d= -f2-); do . "$f"; done
    set +a
    exec=$(grep -E '^ExecStart=' "$unit" | cut -d= -f2-)
    nohup $exec >>"$SANDBOX/serve.log" 2>&1 &
    echo $! > "$SANDBOX/serve.pid"
  )
  for _ in $(seq 1 300); do
    curl -fsk "https://127.0.0.1:${HANDOVER_BIND##*:}/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "serve did not start" >&2; cat "$SANDBOX/serve.log" >&2; exit 1
}
stop() {
  [ -f "$SANDBOX/serve.pid" ] || return 0
  pid=$(cat "$SANDBOX/serve.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$SANDBOX/serve.pid"
}
cmd="$1"; shift
[ "$cmd" = "daemon-reload" ] && exit 0
[ "${1:-}" = "--now" ] && shift
case "${1:-}" in
  handover|handover.service) ;;
  *) echo "(stand-in) systemctl $cmd $*" >&2; exit 0 ;;
esac
case "$cmd" in
  enable|start) start ;;
  restart) stop; start ;;
  stop) stop ;;
  *) echo "systemctl $cmd is not stood in for" >&2; exit 1 ;;
esac
"#,
    ),
];

struct Machine {
    root: tempfile::TempDir,
    env: Vec<(String, String)>,
    peer: PathBuf,
    bin: PathBuf,
}

impl Machine {
    fn new() -> Machine {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let port = common::server::free_port();
        let bin_dir = r.join("usr/local/bin");
        let work = r.join("work");
        let shims = r.join("shims");
        for d in [&work, &shims, &r.join("etc/systemd/system")] {
            std::fs::create_dir_all(d).unwrap();
        }
        for (name, text) in SHIMS {
            let p = shims.join(name);
            std::fs::write(&p, text).unwrap();
            make_executable(&p);
        }
        // What `cargo build --release` makes, here the test build's binary.
        let release = work.join("target/release/handover");
        std::fs::create_dir_all(release.parent().unwrap()).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_handover"), &release).unwrap();
        let data = r.join("var/lib/handover");
        let p = |s: &str| r.join(s).display().to_string();
        let env = vec![
            ("SANDBOX", r.display().to_string()),
            ("HANDOVER_DATA_DIR", data.display().to_string()),
            ("HANDOVER_BIND", format!("127.0.0.1:{port}")),
            ("BIN_DIR", bin_dir.display().to_string()),
            ("UNIT_DIR", p("etc/systemd/system")),
            ("ETC_DIR", p("etc/handover")),
            ("BACKUPS", p("srv/handover-backups")),
            ("OFFSITE", p("mnt/offsite/handover-backups")),
            ("DRILL_DIR", p("var/tmp/handover-drill")),
            ("NODE_URL", format!("https://127.0.0.1:{port}")),
            (
                "NODE",
                format!(
                    "sudo -u handover {}/handover --data-dir {}",
                    bin_dir.display(),
                    data.display()
                ),
            ),
            (
                "PATH",
                format!(
                    "{}:{}:{}",
                    shims.display(),
                    bin_dir.display(),
                    std::env::var("PATH").unwrap()
                ),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Machine {
            peer: r.join("peer-node"),
            bin: release,
            root,
            env,
        }
    }

    fn var(&self, name: &str) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    }

    fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// Runs a block's text with bash; `peer` runs it on the other node.
    fn run(&self, block: &Block, peer: bool) -> std::process::Output {
        let mut cmd = Command::new("bash");
        cmd.arg("-euo")
            .arg("pipefail")
            .arg("-c")
            .arg(&block.text)
            .current_dir(self.work());
        for (k, _) in std::env::vars() {
            if k.starts_with("HANDOVER_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if peer {
            cmd.env("HANDOVER_DATA_DIR", &self.peer);
            cmd.env(
                "NODE",
                format!(
                    "sudo -u handover {} --data-dir {}",
                    self.bin.display(),
                    self.peer.display()
                ),
            );
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "the block at docs/OPERATIONS.md:{} failed ({}):\n{}\n--- stdout\n{}\n--- stderr\n{}\n--- serve.log\n{}",
            block.line,
            out.status,
            block.text,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.root.path().join("serve.log")).unwrap_or_default(),
        );
        out
    }

    fn handover(&self, data: &Path) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--data-dir").arg(data).current_dir(self.work());
        for (k, _) in std::env::vars() {
            if k.starts_with("HANDOVER_") {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    fn stop_serve(&self) {
        let pid = self.root.path().join("serve.pid");
        if let Ok(p) = std::fs::read_to_string(pid) {
            let _ = Command::new("kill").arg(p.trim()).status();
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.stop_serve();
    }
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `systemd-analyze verify` prints nothing for a sound unit (it exits 0
/// even for unknown keys, so its output is what counts).
fn verify_unit(unit: &Path) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "{}: {said}",
        unit.display()
    );
}

/// YAML to JSON, with the stock PyYAML.
fn yaml(text: &str) -> Value {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(text.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_command_of_the_operations_guide_works() {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/OPERATIONS.md"))
            .unwrap();
    let all = blocks(&guide);
    let m = Machine::new();

    // The places the guide names are the ones stood in for here.
    let env_block = all.iter().find(|b| b.info == "sh environment").unwrap();
    let named: Vec<&str> = env_block
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .map(|l| l.split('=').next().unwrap())
        .collect();
    let mut stood_in: Vec<&str> = m
        .env
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !["SANDBOX", "PATH"].contains(k))
        .collect();
    stood_in.sort();
    let mut named_sorted = named.clone();
    named_sorted.sort();
    assert_eq!(named_sorted, stood_in);

    // The other department's node.
    ok(m.handover(&m.peer)
        .args([
            "init",
            "--department",
            "br-swd-patna",
            "--name",
            "Social Welfare Department, Bihar",
        ])
        .output()
        .unwrap());

    let data = PathBuf::from(m.var("HANDOVER_DATA_DIR"));
    let mut seeded = None;
    let mut ran = 0;
    for block in &all {
        match block.info.as_str() {
            "sh" => {
                m.run(block, false);
                ran += 1;
            }
            "sh peer" => {
                m.run(block, true);
                ran += 1;
            }
            "sh environment" | "nginx" => continue,
            "yaml prometheus" => {
                let v = yaml(&block.text);
                let job = &v["scrape_configs"][0];
                assert_eq!(job["job_name"], "handover");
                assert_eq!(job["scheme"], "https");
                assert_eq!(job["metrics_path"], "/metrics");
                assert_eq!(job["authorization"]["type"], "Bearer");
                continue;
            }
            "yaml alerts" => {
                let scraped =
                    std::fs::read_to_string(m.work().join("metrics.txt")).expect("scraped");
                let exported: Vec<&str> = scraped
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .filter_map(|l| l.split(['{', ' ']).next())
                    .collect();
                let v = yaml(&block.text);
                let rules = v["groups"][0]["rules"].as_array().unwrap();
                assert!(rules.len() >= 5);
                for rule in rules {
                    let expr = rule["expr"].as_str().unwrap();
                    assert!(rule["annotations"]["summary"].is_string(), "{rule}");
                    for name in metric_names(expr) {
                        assert!(
                            name == "up" || exported.contains(&name.as_str()),
                            "alert {} uses {name}, which the node does not export",
                            rule["alert"]
                        );
                    }
                }
                for needed in [
                    "handover_outbox_retrying",
                    "handover_audit_write_errors_total",
                    "handover_data_free_bytes",
                    "handover_transfer_oldest_undelivered_seconds",
                ] {
                    assert!(
                        rules
                            .iter()
                            .any(|r| r["expr"].as_str().unwrap().contains(needed)),
                        "no alert on {needed}"
                    );
                }
                continue;
            }
            other => panic!("docs/OPERATIONS.md:{}: unknown block {other:?}", block.line),
        }
        // After the first administrator: a child with a paper, so that the
        // backups, the drill and the rotations have something to carry.
        if seeded.is_none() && block.text.contains("user add asha") {
            let child = ok(m
                .handover(&data)
                .args([
                    "child",
                    "add",
                    "--name",
                    "Synthetic Child",
                    "--institution",
                    "home-1",
                ])
                .output()
                .unwrap());
            let pdf = m.work().join("scan.pdf");
            std::fs::write(&pdf, common::pdf(40_000, "operations-guide")).unwrap();
            ok(m.handover(&data)
                .args(["doc", "put", child.trim(), "--kind", "fir"])
                .arg(&pdf)
                .output()
                .unwrap());
            seeded = Some(child.trim().to_string());
        }
        if block.text.contains("systemd-analyze verify") {
            for unit in std::fs::read_dir(m.var("UNIT_DIR")).unwrap() {
                verify_unit(&unit.unwrap().path());
            }
        }
        if block.text.contains("jq length drill-children.json") {
            let children: Value = serde_json::from_slice(
                &std::fs::read(m.work().join("drill-children.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(
                children.as_array().unwrap().len(),
                1,
                "the drill restored the child"
            );
        }
    }
    assert!(ran >= 15, "only {ran} blocks ran");
    assert!(seeded.is_some());
    assert_eq!(
        std::fs::read_dir(m.var("UNIT_DIR")).unwrap().count(),
        3,
        "the service, the backup service and its timer"
    );

    // Where the guide leaves the two nodes: the node rotated both keys,
    // the other department follows its card, and nothing of the old
    // storage key is left.
    let card: Value = serde_json::from_str(&ok(m
        .handover(&data)
        .args(["dept", "card"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(card["previous_keys"].as_array().unwrap().len(), 2);
    assert_eq!(card["previous_keys"][0]["revoked"], true);
    assert!(!data.join("age-identity.previous.txt").exists());
    let peers: Value = serde_json::from_str(&ok(m
        .handover(&m.peer)
        .args(["dept", "list", "--json"])
        .output()
        .unwrap()))
    .unwrap();
    let ours = peers
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "mh-dcpu-pune")
        .unwrap();
    assert_eq!(ours["ssh_public_key"], card["ssh_public_key"]);
    assert_eq!(ours["age_recipient"], card["age_recipient"]);
    assert!(ours.get("revoked_at").is_none());
    // The rolled-back copy is a whole node.
    let rollback = PathBuf::from(format!("{}.rollback", data.display()));
    ok(m.handover(&rollback).arg("check").output().unwrap());
}

/// The metric names in a PromQL expression (identifiers followed by `{`,
/// a space, `)` or the end, that are not functions or keywords).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut word = String::new();
    let mut in_braces = false;
    for c in expr.chars().chain(std::iter::once(' ')) {
        match c {
            '{' => {
                in_braces = true;
                push_word(&mut names, &mut word, expr);
            }
            '}' => in_braces = false,
            c if !in_braces && (c.is_ascii_alphanumeric() || c == '_') => word.push(c),
            _ => push_word(&mut names, &mut word, expr),
        }
    }
    names
}

fn push_word(names: &mut Vec<String>, word: &mut String, expr: &str) {
    let w = std::mem::take(word);
    let is_fn = expr.contains(&format!("{w}("));
    if !w.is_empty() && w.chars().next().unwrap().is_ascii_alphabetic() && !is_fn {
        names.push(w);
    }
}
