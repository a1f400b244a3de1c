//! For the resumable-upload tests: a small tus 1.0 client (create, HEAD,
//! PATCH, and a loop that resumes after every failure), and a loopback
//! proxy that cuts every connection after a number of bytes from the
//! client, counting all it forwarded.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use reqwest::blocking::{Client, RequestBuilder};

/// How a request authenticates.
#[derive(Clone)]
pub enum Auth {
    Bearer(String),
    /// A page session: its cookie header and its form token.
    Session {
        cookie: String,
        token: String,
    },
}

/// A tus client against one server.
#[derive(Clone)]
pub struct Tus {
    /// `http://127.0.0.1:PORT` (or the proxy's address).
    pub base: String,
    pub auth: Auth,
    client: Client,
}

/// The metadata header for a child and kind (and a title).
pub fn metadata(child: &str, kind: &str, title: Option<&str>) -> String {
    let mut pairs = vec![
        format!("child {}", Base64::encode_string(child.as_bytes())),
        format!("kind {}", Base64::encode_string(kind.as_bytes())),
    ];
    if let Some(t) = title {
        pairs.push(format!("title {}", Base64::encode_string(t.as_bytes())));
    }
    pairs.join(",")
}

impl Tus {
    pub fn new(base: &str, auth: Auth) -> Tus {
        Tus {
            base: base.trim_end_matches('/').to_string(),
            auth,
            client: Client::builder()
                .timeout(Duration::from_secs(120))
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        }
    }

    /// A request with `Tus-Resumable` and the credentials.
    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let r = self
            .client
            .request(method.clone(), url)
            .header("tus-resumable", "1.0.0");
        match &self.auth {
            Auth::Bearer(t) => r.bearer_auth(t),
            Auth::Session { cookie, token } => {
                let r = r.header("cookie", cookie);
                if method == reqwest::Method::HEAD {
                    r
                } else {
                    r.header("x-handover-form-token", token)
                        .header("origin", self.base.clone())
                }
            }
        }
    }

    /// Starts an upload; returns its path (`/api/v1/uploads/ID`).
    pub fn create(&self, child: &str, kind: &str, length: u64) -> String {
        let r = self
            .request(reqwest::Method::POST, "/api/v1/uploads")
            .header("upload-length", length.to_string())
            .header("upload-metadata", metadata(child, kind, None))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
        r.headers()["location"].to_str().unwrap().to_string()
    }

    /// The durable offset (`None`: the upload is unknown), and the
    /// document once it is complete.
    pub fn head(&self, location: &str) -> Result<(Option<u64>, Option<String>), reqwest::Error> {
        let r = self.request(reqwest::Method::HEAD, location).send()?;
        if r.status() == 404 {
            return Ok((None, None));
        }
        assert_eq!(r.status(), 200, "HEAD {location}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let offset = r.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let doc = r
            .headers()
            .get("handover-document")
            .map(|v| v.to_str().unwrap().to_string());
        Ok((Some(offset), doc))
    }

    /// PATCHes `bytes` at `offset`.
    pub fn patch(
        &self,
        location: &str,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<reqwest::blocking::Response, reqwest::Error> {
        self.request(reqwest::Method::PATCH, location)
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(bytes)
            .send()
    }

    /// Uploads all of `data` to `location`, resuming (HEAD, then PATCH the
    /// rest) after every failure; returns the document id and how many
    /// PATCHes it took.
    pub fn finish(&self, location: &str, data: &[u8], tries: usize) -> (String, usize) {
        let mut patches = 0;
        for _ in 0..tries {
            let (offset, doc) = match self.head(location) {
                Ok(h) => h,
                Err(_) => continue,
            };
            let offset = offset.expect("the upload is known");
            if let Some(doc) = doc {
                return (doc, patches);
            }
            patches += 1;
            match self.patch(location, offset, data[offset as usize..].to_vec()) {
                Ok(r) if r.status() == 204 => {
                    if let Some(doc) = r.headers().get("handover-document") {
                        return (doc.to_str().unwrap().to_string(), patches);
                    }
                }
                Ok(r) if r.status() == 409 || r.status() == 423 => {}
                Ok(r) if r.status().is_client_error() => {
                    panic!("PATCH refused: {} {}", r.status(), r.text().unwrap())
                }
                _ => {}
            }
        }
        panic!("the upload did not finish in {tries} tries");
    }
}

/// A loopback proxy to `target` that cuts each connection once it has
/// forwarded `cut_after` bytes from the client.
pub struct CuttingProxy {
    pub port: u16,
    /// Bytes forwarded from clients, in all.
    pub sent: Arc<AtomicU64>,
    /// Connections cut.
    pub cuts: Arc<AtomicU64>,
    /// While false, every connection is refused at once and open ones are
    /// cut (the link is down).
    pub up: Arc<AtomicBool>,
}

impl CuttingProxy {
    pub fn start(target: u16, cut_after: u64) -> CuttingProxy {
        CuttingProxy::with_rate(target, cut_after, None)
    }

    /// As [`CuttingProxy::start`], forwarding at most `bytes_per_sec`
    /// from each client (a slow link, so a test can cut it mid-way).
    pub fn with_rate(target: u16, cut_after: u64, bytes_per_sec: Option<u64>) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(AtomicU64::new(0));
        let cuts = Arc::new(AtomicU64::new(0));
        let up = Arc::new(AtomicBool::new(true));
        let (s, c, u) = (sent.clone(), cuts.clone(), up.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !u.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (s, c, u) = (s.clone(), c.clone(), u.clone());
                std::thread::spawn(move || {
                    pump(client, server, cut_after, bytes_per_sec, &s, &c, &u)
                });
            }
        });
        CuttingProxy {
            port,
            sent,
            cuts,
            up,
        }
    }
}

fn pump(
    client: TcpStream,
    server: TcpStream,
    cut_after: u64,
    bytes_per_sec: Option<u64>,
    sent: &AtomicU64,
    cuts: &AtomicU64,
    up: &AtomicBool,
) {
    let (mut from_client, mut to_server) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut from_server, mut to_client) = (server, client);
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Both);
    });
    let mut buf = vec![0u8; 16 * 1024];
    let mut forwarded = 0u64;
    loop {
        let n = match from_client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let n = n.min((cut_after - forwarded) as usize);
        sent.fetch_add(n as u64, Ordering::SeqCst);
        if to_server.write_all(&buf[..n]).is_err() {
            break;
        }
        forwarded += n as u64;
        if let Some(rate) = bytes_per_sec {
            std::thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
        }
        if forwarded >= cut_after || !up.load(Ordering::SeqCst) {
            cuts.fetch_add(1, Ordering::SeqCst);
            break;
        }
    }
    let _ = to_server.shutdown(Shutdown::Both);
    let _ = from_client.shutdown(Shutdown::Both);
    let _ = back.join();
}

/// A synthetic PDF of `len` bytes with `marker` planted every 4 KiB, so
/// that any piece of it holds the marker.
pub fn marked_pdf(len: usize, marker: &str) -> Vec<u8> {
    let mut v = b"%PDF-1.7\n".to_vec();
    let mut x: u32 = 0x9e37_79b9;
    while v.len() < len {
        if v.len() % 4096 < 4 {
            v.extend_from_slice(format!("\n% {marker}\n").as_bytes());
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len - 7);
    v.extend_from_slice(b"\n%%EOF\n");
    v
}
