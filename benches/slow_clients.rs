//! Unauthenticated slow clients against a real `handover serve` on
//! loopback (not a timed test): while SLOW connections trickle bodies into
//! `POST /api/v1/inbox` and as many into `POST /api/v1/session` (one byte a
//! second, reconnecting when dropped), a logged-in user uploads 1 MB
//! documents and logs in again, ROUNDS times. Prints the times of each, and
//! the same with no slow clients first, and how many slow connections the
//! server dropped.
//!
//! `cargo bench --bench slow_clients [-- SLOW ROUNDS]` (defaults 50 10).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{json, Value};

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let slow: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(50);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    let common::Started {
        process: mut server,
        port,
        admin_password: password,
    } = common::start(env!("CARGO_BIN_EXE_handover"), &data, &[]);
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let c = Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let session =
        |name: &str, pw: &str, new: Option<&str>| common::session(&c, &base, name, pw, new);
    let (_, admin) = session("admin", &password, Some("bench-admin-passphrase"));
    let r = c
        .post(format!("{base}/users"))
        .bearer_auth(&admin)
        .json(&json!({"name": "bench", "role": "shelter_staff", "scope": "institution:bench-home", "password": "bench-one-time-pass"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, staff) = session("bench", "bench-one-time-pass", Some("bench-own-passphrase"));
    let child: Value = c
        .post(format!("{base}/children"))
        .bearer_auth(&staff)
        .json(&json!({"name": "Synthetic Bench Child"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let child = child["id"].as_str().unwrap().to_string();
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.resize(1_000_000, b'x');
    pdf.extend_from_slice(b"\n%%EOF\n");

    let measure = |label: &str| {
        let mut uploads = Vec::new();
        let mut logins = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            let r = c
                .post(format!("{base}/children/{child}/documents"))
                .bearer_auth(&staff)
                .header("X-Handover-Kind", "fir")
                .body(pdf.clone())
                .send()
                .unwrap();
            assert_eq!(r.status(), 201, "upload");
            uploads.push(t.elapsed());
            let t = Instant::now();
            let (status, _) = session("bench", "bench-own-passphrase", None);
            assert_eq!(status, 201, "login");
            logins.push(t.elapsed());
        }
        uploads.sort();
        logins.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{label}: 1 MB upload median {:.0} ms, max {:.0} ms; login median {:.0} ms, max {:.0} ms ({rounds} each)",
            ms(uploads[rounds / 2]),
            ms(uploads[rounds - 1]),
            ms(logins[rounds / 2]),
            ms(logins[rounds - 1]),
        );
    };
    measure("no slow clients");

    let stop = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for i in 0..slow * 2 {
        let (stop, dropped) = (stop.clone(), dropped.clone());
        let path = if i % 2 == 0 {
            "/api/v1/inbox"
        } else {
            "/api/v1/session"
        };
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                };
                let _ = write!(
                    s,
                    "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"
                );
                s.set_read_timeout(Some(Duration::from_millis(10))).ok();
                // One byte a second until the server gives up on us.
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if s.write_all(b"H").is_err() {
                        break;
                    }
                    let mut buf = [0u8; 512];
                    match s.read(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => break,
                        Err(_) => {}
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(3));
    let t = Instant::now();
    measure(&format!(
        "{slow} slow inbox + {slow} slow login connections"
    ));
    // Keep the pressure on past the idle limit, then measure again.
    std::thread::sleep(Duration::from_secs(25).saturating_sub(t.elapsed()));
    measure("the same, after 25 s of it");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    println!(
        "slow connections answered or dropped by the server: {}",
        dropped.load(Ordering::Relaxed)
    );
    unsafe {
        libc::kill(server.id() as i32, libc::SIGTERM);
    }
    let _ = server.wait();
}
