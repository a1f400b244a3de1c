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
