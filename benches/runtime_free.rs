//! Does heavy work leave the runtime free? Against a real `handover serve`
//! on loopback (not a timed test): HEAVY concurrent clients, a third each
//! downloading a BIG_MIB document again and again, listing a child's access
//! history (read from the audit log) and logging in (Argon2), for SECS
//! seconds. Meanwhile a probe asks `GET /healthz` and a small authenticated
//! read (`GET /api/v1/children/{id}/checklist`) every 20 ms. Prints the
//! probe's latencies (median, p99, max) with no load, then under load, and
//! what the heavy clients got done.
//!
//! `cargo bench --bench runtime_free [-- HEAVY SECS BIG_MIB]` (defaults
//! 32 30 1024). `HANDOVER_BIN=PATH` runs another build of the server (to
//! compare before and after a change); `BENCH_NICE_CLIENTS=1` runs the heavy
//! clients at the lowest CPU priority, as if they were on other machines
//! (the load generator shares the server's two cores); `BENCH_VERBOSE=1`
//! prints each failed heavy request; `BENCH_ONLY=0|1|2` makes every heavy
//! client download, list or log in. Synthetic documents only.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;
use serde_json::{json, Value};

/// A body of `len` bytes that is a PDF to intake, made as it is read.
struct BigPdf {
    len: u64,
    at: u64,
}

impl Read for BigPdf {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        const HEAD: &[u8] = b"%PDF-1.4\n";
        const TAIL: &[u8] = b"\n%%EOF\n";
        let n = (buf.len() as u64).min(self.len - self.at) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let pos = self.at + i as u64;
            *b = if pos < HEAD.len() as u64 {
                HEAD[pos as usize]
            } else if pos >= self.len - TAIL.len() as u64 {
                TAIL[(pos - (self.len - TAIL.len() as u64)) as usize]
            } else {
                b'x'
            };
        }
        self.at += n as u64;
        Ok(n)
    }
}

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
    format!(
        "median {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} probes)",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(v[v.len() - 1]),
        v.len()
    )
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let heavy: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(32);
    let secs: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let big_mib: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let bin =
        std::env::var("HANDOVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_handover").into());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    let common::Started {
        process: mut server,
        port,
        admin_password: password,
    } = common::start(
        &bin,
        &data,
        &[(
            "HANDOVER_MAX_DOCUMENT_BYTES",
            ((big_mib + 1) << 20).to_string(),
        )],
    );
    let root = format!("http://127.0.0.1:{port}");
    let base = format!("{root}/api/v1");
    let c = Client::builder()
        .timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let session = |name: &str, pw: &str, new: Option<&str>| {
        let (status, token) = common::session(&c, &base, name, pw, new);
        assert_eq!(status, 201, "login");
        token
    };
    let admin = session("admin", &password, Some("bench-admin-passphrase"));
    let r = c
        .post(format!("{base}/users"))
        .bearer_auth(&admin)
        .json(&json!({"name": "bench", "role": "shelter_staff", "scope": "institution:bench-home", "password": "bench-one-time-pass"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let staff = session("bench", "bench-one-time-pass", Some("bench-own-passphrase"));
    let child: Value = c
        .post(format!("{base}/children"))
        .bearer_auth(&staff)
        .json(&json!({"name": "Synthetic Bench Child", "district": "rajasthan/jaipur"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let child = child["id"].as_str().unwrap().to_string();
    let t = Instant::now();
    let r = c
        .post(format!("{base}/children/{child}/documents"))
        .bearer_auth(&staff)
        .header("X-Handover-Kind", "fir")
        .body(reqwest::blocking::Body::new(BigPdf {
            len: big_mib << 20,
            at: 0,
        }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "big upload");
    let doc: Value = r.json().unwrap();
    let doc = doc["id"].as_str().unwrap().to_string();
    println!(
        "set-up: {big_mib} MiB uploaded in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // An access history worth reading: a few hundred audited reads.
    for _ in 0..300 {
        let r = c
            .get(format!("{base}/children/{child}"))
            .bearer_auth(&staff)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // The access history is for the child's CWC.
    let r = c
        .post(format!("{base}/users"))
        .bearer_auth(&admin)
        .json(&json!({"name": "bench-cwc", "role": "cwc_member", "scope": "district:rajasthan/jaipur", "password": "bench-one-time-pass"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let access_reader = session(
        "bench-cwc",
        "bench-one-time-pass",
        Some("bench-cwc-passphrase"),
    );
    let r = c
        .get(format!("{base}/children/{child}/access-log"))
        .bearer_auth(&access_reader)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "access history");
    let probe_client = Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let probe = |stop: &AtomicBool, until: Instant| {
        let c = &probe_client;
        let (mut health, mut read) = (Vec::new(), Vec::new());
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            let t = Instant::now();
            let r = c.get(format!("{root}/healthz")).send().unwrap();
            assert!(r.status().is_success(), "healthz {}", r.status());
            health.push(t.elapsed());
            let t = Instant::now();
            let r = c
                .get(format!("{base}/children/{child}/checklist"))
                .bearer_auth(&staff)
                .send()
                .unwrap();
            assert_eq!(r.status(), 200, "small read");
            let _ = r.bytes().unwrap();
            read.push(t.elapsed());
            std::thread::sleep(Duration::from_millis(20));
        }
        (health, read)
    };

    let (health, read) = probe(
        &AtomicBool::new(false),
        Instant::now() + Duration::from_secs(5),
    );
    println!("idle: /healthz {}", percentiles(health));
    println!("idle: small read {}", percentiles(read));

    let stop = Arc::new(AtomicBool::new(false));
    let done = [
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    ];
    let downloaded = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for i in 0..heavy {
        let (stop, done, downloaded, errors) = (
            stop.clone(),
            done.clone(),
            downloaded.clone(),
            errors.clone(),
        );
        // A client of its own: a shared blocking client funnels every
        // connection through one thread of the load generator.
        let (c, base, child, doc, staff, access_reader) = (
            Client::builder()
                .timeout(Duration::from_secs(3600))
                .build()
                .unwrap(),
            base.clone(),
            child.clone(),
            doc.clone(),
            staff.clone(),
            access_reader.clone(),
        );
        threads.push(std::thread::spawn(move || {
            // With BENCH_NICE_CLIENTS, the load generator yields the CPU as
            // clients on other machines would.
            if std::env::var_os("BENCH_NICE_CLIENTS").is_some() {
                // SAFETY: lowers this thread's own priority; no memory effects.
                unsafe {
                    libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19);
                }
            }
            let mut buf = vec![0u8; 1 << 16];
            while !stop.load(Ordering::Relaxed) {
                let kind = std::env::var("BENCH_ONLY")
                    .ok()
                    .and_then(|k| k.parse().ok())
                    .unwrap_or(i % 3);
                let ok = match kind {
                    0 => {
                        let mut r = c
                            .get(format!("{base}/documents/{doc}/content"))
                            .bearer_auth(&staff)
                            .send()
                            .unwrap();
                        let mut ok = r.status() == 200;
                        while ok && !stop.load(Ordering::Relaxed) {
                            match r.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    downloaded.fetch_add(n as u64, Ordering::Relaxed);
                                }
                                Err(_) => ok = false,
                            }
                        }
                        ok
                    }
                    1 => {
                        let r = c
                            .get(format!("{base}/children/{child}/access-log"))
                            .bearer_auth(&access_reader)
                            .send();
                        let ok = r.as_ref().is_ok_and(|r| r.status() == 200);
                        if !ok && std::env::var_os("BENCH_VERBOSE").is_some() {
                            eprintln!("access-log: {:?}", r.as_ref().map(|r| r.status()));
                        }
                        ok && r.unwrap().bytes().is_ok()
                    }
                    _ => {
                        let r = c
                            .post(format!("{base}/session"))
                            .json(&json!({"name": "bench", "password": "bench-own-passphrase"}))
                            .send();
                        let ok = r.as_ref().is_ok_and(|r| r.status() == 201);
                        if !ok && std::env::var_os("BENCH_VERBOSE").is_some() {
                            eprintln!("login: {:?}", r.map(|r| r.status()));
                        }
                        ok
                    }
                };
                if ok {
                    done[kind].fetch_add(1, Ordering::Relaxed);
                } else if !stop.load(Ordering::Relaxed) {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(2));
    let (health, read) = probe(&stop, Instant::now() + Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    println!("{heavy} heavy clients: /healthz {}", percentiles(health));
    println!("{heavy} heavy clients: small read {}", percentiles(read));
    println!(
        "heavy work done in {secs} s: {} downloads finished ({:.0} MiB read), {} access-history listings, {} logins, {} errors",
        done[0].load(Ordering::Relaxed),
        downloaded.load(Ordering::Relaxed) as f64 / (1 << 20) as f64,
        done[1].load(Ordering::Relaxed),
        done[2].load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
    );
    unsafe {
        libc::kill(server.id() as i32, libc::SIGTERM);
    }
    let _ = server.wait();
}
