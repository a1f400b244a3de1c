//! A real Garage S3 server for the tests, on loopback.
//!
//! * [`single`]: one single-node server per test binary
//!   (`garage server --single-node --default-bucket`), started on first use;
//!   each test node gets a fresh bucket of its own ([`Garage::new_bucket`]).
//! * [`Cluster`]: three nodes with replication factor 3, whose nodes a test
//!   can stop and start again.
//!
//! Servers are tied to the test process (`PR_SET_PDEATHSIG`), so none
//! outlives it. A missing `garage` binary fails the test: `.ci/run`
//! installs it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use serde_json::{json, Value};

/// The access key every test server knows (test credentials, loopback only).
pub const KEY_ID: &str = "GK0123456789abcdef01234567";
pub const SECRET: &str = "4f1b6c0a2d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a";
const ADMIN_TOKEN: &str = "test-admin-token-not-a-secret";
const RPC_SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const REGION: &str = "garage";

/// The `garage` binary, or a failure that says how to install it.
pub fn binary() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([home.join(".cargo/bin")])
        .map(|d| d.join("garage"));
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "the S3 tests need Garage: cargo install --locked garage --no-default-features \
         --features bundled-libs,lmdb (.ci/run does this)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Spawns `cmd` so that it dies with the test process. The spawning thread
/// must outlive the child (the death signal follows the thread), so a
/// thread that never ends spawns it.
fn spawn_tied(mut cmd: Command) -> Child {
    use std::os::unix::process::CommandExt;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: prctl is async-signal-safe; nothing else runs before exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        tx.send(cmd.spawn()).unwrap();
        loop {
            std::thread::park();
        }
    });
    rx.recv().unwrap().expect("garage starts")
}

/// One Garage server's configuration and ports.
struct ServerConfig {
    file: PathBuf,
    s3_port: u16,
    admin_port: u16,
    rpc_port: u16,
}

fn write_config(dir: &Path, replication: u8) -> ServerConfig {
    std::fs::create_dir_all(dir).unwrap();
    let (s3_port, admin_port, rpc_port) = (free_port(), free_port(), free_port());
    let file = dir.join("garage.toml");
    std::fs::write(
        &file,
        format!(
            r#"metadata_dir = "{meta}"
data_dir = "{data}"
db_engine = "lmdb"
replication_factor = {replication}
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{RPC_SECRET}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:{admin_port}"
admin_token = "{ADMIN_TOKEN}"
"#,
            meta = dir.join("meta").display(),
            data = dir.join("data").display(),
        ),
    )
    .unwrap();
    ServerConfig {
        file,
        s3_port,
        admin_port,
        rpc_port,
    }
}

fn server_command(config: &ServerConfig, log: &Path) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("-c").arg(&config.file).arg("server");
    cmd.env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    cmd
}

fn admin(port: u16, method: &str, call: &str, body: Option<Value>) -> Result<Value, String> {
    let client = reqwest::blocking::Client::new();
    let url = format!("http://127.0.0.1:{port}/v2/{call}");
    let req = match method {
        "GET" => client.get(url),
        _ => client.post(url).json(&body.unwrap_or(json!({}))),
    };
    let resp = req
        .bearer_auth(ADMIN_TOKEN)
        .timeout(Duration::from_secs(30))
        .send()
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let text = resp.text().map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{call}: {status}: {text}"));
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Every node up and every partition fully replicated.
fn all_up(health: &Value) -> bool {
    health["status"] == "healthy"
        && health["storageNodesUp"] == 3
        && health["partitionsAllOk"] == health["partitions"]
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "garage: {what} not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A single-node Garage server.
pub struct Garage {
    s3_port: u16,
    admin_port: u16,
    _server: Mutex<Child>,
}

/// The single-node server of this test binary.
pub fn single() -> &'static Garage {
    static SINGLE: OnceLock<Garage> = OnceLock::new();
    SINGLE.get_or_init(|| {
        // A static is never dropped, so the server's data lives in one
        // place per test binary, cleared when the binary next starts.
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("garage-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        let config = write_config(&dir, 1);
        let mut cmd = server_command(&config, &dir.join("garage.log"));
        cmd.args(["--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", KEY_ID)
            .env("GARAGE_DEFAULT_SECRET_KEY", SECRET)
            .env("GARAGE_DEFAULT_BUCKET", "handover-default");
        let server = spawn_tied(cmd);
        let port = config.admin_port;
        wait_for("the default bucket", Duration::from_secs(60), || {
            admin(
                port,
                "GET",
                "GetBucketInfo?globalAlias=handover-default",
                None,
            )
            .is_ok()
        });
        Garage {
            s3_port: config.s3_port,
            admin_port: config.admin_port,
            _server: Mutex::new(server),
        }
    })
}

impl Garage {
    /// A new, empty bucket that the test key may read and write.
    pub fn new_bucket(&self) -> Bucket {
        Bucket::create(self.admin_port, self.s3_port)
    }
}

/// One bucket of a test server, with what a node needs to use it.
#[derive(Clone)]
pub struct Bucket {
    pub name: String,
    pub endpoint: String,
    admin_port: u16,
}

impl Bucket {
    fn create(admin_port: u16, s3_port: u16) -> Bucket {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("handover-test-{}-{n}", std::process::id());
        let made = admin(
            admin_port,
            "POST",
            "CreateBucket",
            Some(json!({ "globalAlias": name })),
        )
        .unwrap();
        admin(
            admin_port,
            "POST",
            "AllowBucketKey",
            Some(json!({
                "bucketId": made["id"],
                "accessKeyId": KEY_ID,
                "permissions": { "read": true, "write": true, "owner": true },
            })),
        )
        .unwrap();
        Bucket {
            name,
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            admin_port,
        }
    }

    /// The settings and credentials a node on this bucket runs with.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HANDOVER_BLOB_STORE", format!("s3://{}", self.name)),
            ("HANDOVER_S3_ENDPOINT", self.endpoint.clone()),
            ("HANDOVER_S3_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
        ]
    }

    /// What Garage counts in the bucket (`objects`, `unfinishedMultipartUploads`, ...).
    pub fn info(&self) -> Value {
        admin(
            self.admin_port,
            "GET",
            &format!("GetBucketInfo?globalAlias={}", self.name),
            None,
        )
        .unwrap()
    }

    /// Multipart uploads begun and neither completed nor aborted.
    pub fn unfinished_multipart_uploads(&self) -> u64 {
        self.info()["unfinishedMultipartUploads"].as_u64().unwrap()
    }

    fn client(&self) -> (AmazonS3, tokio::runtime::Runtime) {
        let s3 = AmazonS3Builder::new()
            .with_bucket_name(&self.name)
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_region(REGION)
            .with_access_key_id(KEY_ID)
            .with_secret_access_key(SECRET)
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (s3, rt)
    }

    /// Every object key in the bucket, sorted.
    pub fn objects(&self) -> Vec<String> {
        use futures::TryStreamExt;
        let (s3, rt) = self.client();
        let mut keys: Vec<String> = rt
            .block_on(
                s3.list(None)
                    .map_ok(|m| m.location.to_string())
                    .try_collect(),
            )
            .unwrap();
        keys.sort();
        keys
    }

    pub fn read(&self, key: &str) -> Vec<u8> {
        let (s3, rt) = self.client();
        rt.block_on(async {
            s3.get(&ObjectPath::from(key))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec()
        })
    }

    pub fn delete(&self, key: &str) {
        let (s3, rt) = self.client();
        rt.block_on(s3.delete(&ObjectPath::from(key))).unwrap();
    }

    pub fn write(&self, key: &str, bytes: &[u8]) {
        let (s3, rt) = self.client();
        rt.block_on(s3.put(&ObjectPath::from(key), bytes.to_vec().into()))
            .unwrap();
    }
}

/// One node of a cluster: its configuration, log and process (when running).
struct ClusterNode {
    config: ServerConfig,
    log: PathBuf,
    process: Arc<Mutex<Option<Child>>>,
}

/// A three-node Garage cluster with replication factor 3.
pub struct Cluster {
    _dir: tempfile::TempDir,
    servers: Vec<ClusterNode>,
    /// The bucket, reached through the first node.
    pub bucket: Bucket,
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let mut servers = Vec::new();
        for i in 0..3 {
            let node_dir = dir.path().join(format!("node{i}"));
            let config = write_config(&node_dir, 3);
            let log = node_dir.join("garage.log");
            let child = spawn_tied(server_command(&config, &log));
            servers.push(ClusterNode {
                config,
                log,
                process: Arc::new(Mutex::new(Some(child))),
            });
        }
        let cli = |i: usize, args: &[&str]| -> String {
            let out = Command::new(binary())
                .arg("-c")
                .arg(&servers[i].config.file)
                .args(args)
                .env("RUST_LOG", "warn")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "garage {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let mut ids = Vec::new();
        for (i, server) in servers.iter().enumerate() {
            let port = server.config.admin_port;
            wait_for("a node", Duration::from_secs(60), || {
                admin(port, "GET", "GetClusterHealth", None).is_ok()
            });
            ids.push(cli(i, &["node", "id", "-q"]).trim().to_string());
        }
        for id in &ids[1..] {
            cli(0, &["node", "connect", id]);
        }
        for id in &ids {
            let short = id.split('@').next().unwrap();
            cli(0, &["layout", "assign", "-z", "dc1", "-c", "1G", short]);
        }
        cli(0, &["layout", "apply", "--version", "1"]);
        let port = servers[0].config.admin_port;
        wait_for("a healthy cluster", Duration::from_secs(60), || {
            admin(port, "GET", "GetClusterHealth", None)
                .map(|h| all_up(&h))
                .unwrap_or(false)
        });
        admin(
            port,
            "POST",
            "ImportKey",
            Some(json!({ "accessKeyId": KEY_ID, "secretAccessKey": SECRET, "name": "test" })),
        )
        .unwrap();
        let bucket = Bucket::create(port, servers[0].config.s3_port);
        Cluster {
            _dir: dir,
            servers,
            bucket,
        }
    }

    /// Kills node `i` (SIGKILL).
    pub fn kill(&self, i: usize) {
        if let Some(mut child) = self.servers[i].process.lock().unwrap().take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts node `i` again on its data, and waits until all three are up.
    pub fn restart(&self, i: usize) {
        let node = &self.servers[i];
        let log = node.log.with_extension("restarted.log");
        *node.process.lock().unwrap() = Some(spawn_tied(server_command(&node.config, &log)));
        let port = self.servers[0].config.admin_port;
        wait_for("the node back", Duration::from_secs(60), || {
            admin(port, "GET", "GetClusterHealth", None)
                .map(|h| all_up(&h))
                .unwrap_or(false)
        });
    }

    /// The cluster's health as the first node sees it.
    pub fn health(&self) -> Value {
        admin(
            self.servers[0].config.admin_port,
            "GET",
            "GetClusterHealth",
            None,
        )
        .unwrap()
    }
}
