//! A real `handover serve` process on a loopback port, and a small blocking
//! HTTP client for it. Synthetic data only.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{json, Value};

/// The password [`Server::admin`] gives the admin at the first login.
pub const ADMIN_PASSWORD: &str = "test-admin-passphrase-41";

/// A free loopback port (bound and released: a node restarted on it keeps
/// the inbox URL in its card).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One running server.
pub struct Server {
    pub data: PathBuf,
    pub port: u16,
    pub department: String,
    /// The one-time password of a first run (read from the file it names).
    pub admin_password: Option<String>,
    process: Option<Child>,
    env: Vec<(String, String)>,
}

impl Server {
    /// Starts `handover serve` on `port` with data in `data`; a first run
    /// sets up `department`.
    pub fn start(data: &Path, port: u16, department: &str, env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            data: data.to_path_buf(),
            port,
            department: department.to_string(),
            admin_password: None,
            process: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        s.admin_password = s.launch();
        s
    }

    fn launch(&mut self) -> Option<String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_handover"))
            .args([
                "--data-dir",
                self.data.to_str().unwrap(),
                "serve",
                "--bind",
                &format!("127.0.0.1:{}", self.port),
                "--department",
                &self.department,
                "--name",
                "Test department",
            ])
            .env_remove("HANDOVER_TOKEN")
            .env_remove("HANDOVER_PASSPHRASE")
            .env("HANDOVER_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.log_path())
                    .unwrap(),
            ))
            .spawn()
            .expect("start handover serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut password = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the server printed its address");
            // The first run names the file that holds the one-time password.
            if let Some(p) = line.strip_prefix("    ") {
                let file = std::path::PathBuf::from(p.trim());
                password = Some(std::fs::read_to_string(&file).unwrap().trim().to_string());
            }
            if line.contains("listening on") {
                break;
            }
        }
        self.process = Some(child);
        password
    }

    /// Where the server's log lines (stderr) go: next to its data directory.
    pub fn log_path(&self) -> PathBuf {
        self.data.with_extension("log")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGTERM, and wait for the exit.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            unsafe {
                libc::kill(p.id() as i32, libc::SIGTERM);
            }
            p.wait().unwrap();
        }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill().unwrap();
            p.wait().unwrap();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        assert!(self.process.is_none());
        self.launch();
    }

    /// Logs in; returns a bearer token.
    pub fn login(&self, name: &str, password: &str) -> String {
        let r = client()
            .post(self.url("/api/v1/session"))
            .json(&json!({"name": name, "password": password}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "login of {name}");
        r.json::<Value>().unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Logs in with a one-time password, setting `new` on the way.
    pub fn first_login(&self, name: &str, one_time: &str, new: &str) -> String {
        let r = client()
            .post(self.url("/api/v1/session"))
            .json(&json!({"name": name, "password": one_time, "new_password": new}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "first login of {name}");
        r.json::<Value>().unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The admin's token. The first call replaces the one-time password
    /// with [`ADMIN_PASSWORD`].
    pub fn admin(&self) -> String {
        let r = client()
            .post(self.url("/api/v1/session"))
            .json(&json!({"name": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .unwrap();
        if r.status() == 201 {
            return r.json::<Value>().unwrap()["token"]
                .as_str()
                .unwrap()
                .to_string();
        }
        self.first_login(
            "admin",
            self.admin_password.as_deref().unwrap(),
            ADMIN_PASSWORD,
        )
    }

    /// Adds a user (as admin) with a one-time password, and logs them in,
    /// setting their own password `NAME-password-long`.
    pub fn user(&self, admin: &str, name: &str, role: &str, scope: &str) -> String {
        let one_time = format!("{name}-one-time-pass");
        let r = self
            .post(admin, "/api/v1/users")
            .json(&json!({"name": name, "role": role, "scope": scope, "password": one_time}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "add user {name}");
        self.first_login(name, &one_time, &format!("{name}-password-long"))
    }

    pub fn get(&self, token: &str, path: &str) -> RequestBuilder {
        client().get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, token: &str, path: &str) -> RequestBuilder {
        client().post(self.url(path)).bearer_auth(token)
    }

    /// POST a JSON body.
    pub fn post_json(&self, token: &str, path: &str, body: Value) -> Response {
        self.post(token, path).json(&body).send().unwrap()
    }

    /// POST a JSON body, asserting `status`; returns the `id` the answer names.
    pub fn create(&self, token: &str, path: &str, body: Value, status: u16) -> String {
        let r = self.post_json(token, path, body);
        assert_eq!(r.status(), status, "POST {path}");
        r.json::<Value>().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// GET as JSON, asserting 200.
    pub fn get_json(&self, token: &str, path: &str) -> Value {
        let r = self.get(token, path).send().unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().unwrap()
    }

    /// This node's card (public).
    pub fn card(&self) -> Value {
        client()
            .get(self.url("/api/v1/departments/self"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// Adds each node's card to the other's directory.
pub fn introduce(a: &Server, a_admin: &str, b: &Server, b_admin: &str) {
    for (to, admin, card) in [(a, a_admin, b.card()), (b, b_admin, a.card())] {
        let r = to
            .post(admin, "/api/v1/departments")
            .json(&card)
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "add card");
    }
}

/// Problem type of an error response.
pub fn problem(r: Response) -> (u16, String) {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json", "status {status}");
    let v: Value = r.json().unwrap();
    (status, v["type"].as_str().unwrap().to_string())
}

/// Polls `f` until it returns Some, for at most `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
