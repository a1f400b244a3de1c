//! What the benches share: starting a real `handover serve` on a free
//! loopback port with a first run, and reading the one-time admin password
//! it writes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A server started by [`start`].
pub struct Started {
    pub process: Child,
    pub port: u16,
    /// The first admin's one-time password (from the file the first run names).
    pub admin_password: String,
}

/// Starts `bin serve` on a free port with the data directory `data` and
/// extra environment `env`; returns once it listens.
pub fn start(bin: &str, data: &Path, env: &[(&str, String)]) -> Started {
    start_with(bin, data, env, &[]).0
}

/// [`start`] with more arguments to `serve`; also returns every line the
/// server printed before it listened.
pub fn start_with(
    bin: &str,
    data: &Path,
    env: &[(&str, String)],
    args: &[&str],
) -> (Started, Vec<String>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut process = Command::new(bin)
        .args(["--data-dir", data.to_str().unwrap(), "serve", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env("HANDOVER_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
    let mut admin_password = String::new();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        // The first run names the file holding the one-time password.
        if let Some(p) = line
            .strip_prefix("    ")
            .filter(|p| p.trim().starts_with('/'))
        {
            admin_password = std::fs::read_to_string(p.trim())
                .unwrap()
                .trim()
                .to_string();
        }
        let done = line.contains("listening on");
        printed.push(line);
        if done {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (
        Started {
            process,
            port,
            admin_password,
        },
        printed,
    )
}

/// `POST {base}/session` as `name`, setting `new` as the new password if
/// given: the status and the token (empty if refused).
pub fn session(
    c: &reqwest::blocking::Client,
    base: &str,
    name: &str,
    password: &str,
    new: Option<&str>,
) -> (u16, String) {
    let mut body = serde_json::json!({"name": name, "password": password});
    if let Some(n) = new {
        body["new_password"] = serde_json::json!(n);
    }
    let r = c
        .post(format!("{base}/session"))
        .json(&body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().unwrap_or(serde_json::Value::Null);
    (status, v["token"].as_str().unwrap_or("").to_string())
}

/// Runs `cmd` under `/usr/bin/time -f %M` (writing the figure to
/// `rss_file`), asserting it succeeds: its output, wall seconds and peak
/// RSS in MiB.
pub fn timed(cmd: Command, rss_file: &Path) -> (std::process::Output, f64, f64) {
    let mut time = Command::new("/usr/bin/time");
    time.args(["-f", "%M", "-o"])
        .arg(rss_file)
        .arg(cmd.get_program());
    time.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => time.env(k, v),
            None => time.env_remove(k),
        };
    }
    let start = std::time::Instant::now();
    let out = time.output().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    let kib: f64 = std::fs::read_to_string(rss_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (out, secs, kib / 1024.0)
}

/// On a first-run server at `base` (`…/api/v1`): logs the admin in with
/// its one-time password, adds a shelter staff user `staff` at `home-1`,
/// logs them in, and takes in one synthetic child. Returns the staff
/// token and the child's id.
pub fn staff_and_child(
    c: &reqwest::blocking::Client,
    base: &str,
    admin_one_time: &str,
) -> (String, String) {
    let (_, admin) = session(
        c,
        base,
        "admin",
        admin_one_time,
        Some("bench admin password"),
    );
    let r = c
        .post(format!("{base}/users"))
        .bearer_auth(&admin)
        .json(
            &serde_json::json!({"name": "staff", "role": "shelter_staff",
            "scope": "institution:home-1", "password": "staff one time pass"}),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, token) = session(
        c,
        base,
        "staff",
        "staff one time pass",
        Some("staff bench password"),
    );
    let child: serde_json::Value = c
        .post(format!("{base}/children"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Bench Synthetic"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    (token, child["id"].as_str().unwrap().to_string())
}

/// A `/proc/PID/status` figure (`VmRSS:`, `VmHWM:`) in MiB.
pub fn vm_mib(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024.0
}
