//! The attacks an outside tester made on `handover serve`, each performed
//! against a real server and shown failing: borrowing accounts as an admin,
//! racing and locking out logins, finding names by the work a login does,
//! stolen sessions after recovery, filling the disk through the open inbox,
//! slow bodies, metric labels made up by clients, and what errors echo.
//! Synthetic data only.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::bundles::{child_with, create, two_nodes, DEST};
use common::server::{client, problem, wait_for, Server, ADMIN_PASSWORD};
use serde_json::{json, Value};
use tempfile::TempDir;

/// Clients are told apart by this header (as behind a reverse proxy).
const BY_HEADER: (&str, &str) = ("HANDOVER_CLIENT_ADDRESS_HEADER", "x-forwarded-for");

fn node(env: &[(&str, &str)]) -> (TempDir, Server, String) {
    let tmp = TempDir::new().unwrap();
    let s = Server::start(
        &tmp.path().join("node"),
        common::server::free_port(),
        "test-dcpu",
        env,
    );
    let admin = s.admin();
    (tmp, s, admin)
}

/// A shelter staff user of `home-1` and a child they took in.
fn staff_and_child(s: &Server, admin: &str) -> (String, String) {
    let staff = s.user(admin, "staff", "shelter_staff", "institution:home-1");
    let child = s.create(
        &staff,
        "/api/v1/children",
        json!({"name": "Synthetic"}),
        201,
    );
    (staff, child)
}

/// POST /api/v1/session from the client `ip`.
fn login_from(s: &Server, ip: &str, name: &str, password: &str) -> reqwest::blocking::Response {
    client()
        .post(s.url("/api/v1/session"))
        .header("x-forwarded-for", ip)
        .json(&json!({"name": name, "password": password}))
        .send()
        .unwrap()
}

/// Audit lines (JSON) of a node.
use common::audit_lines as audit;

fn metric(s: &Server, line_start: &str) -> Option<f64> {
    let text = client()
        .get(s.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn user_id(s: &Server, admin: &str, name: &str) -> String {
    let users = s.get_json(admin, "/api/v1/users");
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_admin_cannot_borrow_an_account_that_reads_papers() {
    let (_tmp, s, admin) = node(&[]);
    let cwc = s.user(&admin, "cwc", "cwc_member", "district:rajasthan/jaipur");
    let cwc_id = user_id(&s, &admin, "cwc");

    // No token for an account with a password, except by its user.
    let r = s.post_json(&admin, "/api/v1/users/cwc/tokens", json!({"days": 1}));
    assert_eq!(
        problem(r),
        (403, "urn:handover:problem:separation-of-duties".into())
    );
    let r = s.post_json(&cwc, "/api/v1/users/cwc/tokens", json!({"days": 1}));
    assert_eq!(r.status(), 201, "a user makes their own token");
    let own_token = r.json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    // A token-only service account gets one from the admin.
    let r = s.post_json(
        &admin,
        "/api/v1/users",
        json!({"name": "backup-job", "role": "admin", "scope": "department:test-dcpu"}),
    );
    assert_eq!(r.status(), 201);
    let r = s.post_json(
        &admin,
        "/api/v1/users/backup-job/tokens",
        json!({"days": 1}),
    );
    assert_eq!(r.status(), 201);

    // A new account's password works once, only to set another: an admin
    // who made it cannot use it quietly.
    let r = s.post_json(
        &admin,
        "/api/v1/users",
        json!({"name": "cwc2", "role": "cwc_member", "scope": "district:rajasthan/jaipur",
               "password": "chosen-by-the-admin-1"}),
    );
    assert_eq!(r.status(), 201);
    let r = login_from(&s, "10.1.0.1", "cwc2", "chosen-by-the-admin-1");
    assert_eq!(
        problem(r),
        (403, "urn:handover:problem:password-change-required".into())
    );

    // A reset revokes every session and token of the user, and works once.
    let r = s.post_json(
        &admin,
        "/api/v1/users/cwc/password",
        json!({"password": "reset-by-the-admin-1"}),
    );
    assert_eq!(r.status(), 204);
    for token in [&cwc, &own_token] {
        let r = s.get(token, "/api/v1/children").send().unwrap();
        assert_eq!(problem(r).0, 401, "a reset ends old sessions");
    }
    let r = login_from(&s, "10.1.0.2", "cwc", "reset-by-the-admin-1");
    assert_eq!(
        problem(r),
        (403, "urn:handover:problem:password-change-required".into())
    );
    let cwc = s.first_login("cwc", "reset-by-the-admin-1", "cwc-password-again");

    // A role change revokes too.
    let r = client()
        .patch(s.url("/api/v1/users/cwc"))
        .bearer_auth(&admin)
        .json(&json!({"role": "dcpu_officer", "scope": "district:rajasthan/jaipur"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        problem(s.get(&cwc, "/api/v1/children").send().unwrap()).0,
        401
    );

    // Every act on the account is audited with the account as target.
    let lines = audit(&s.data);
    let on_cwc: Vec<&Value> = lines
        .iter()
        .filter(|l| l["action"] == "administer" && l["target"] == cwc_id.as_str())
        .collect();
    assert!(
        on_cwc.len() >= 3,
        "token refused, reset, role change: {on_cwc:?}"
    );
    assert!(lines
        .iter()
        .any(|l| l["action"] == "create_token" && l["target"] == cwc_id.as_str()));

    // A second person sees every read-capable account made, every role
    // given and every reset: in the status and in the metrics.
    let status = s.get_json(&admin, "/api/v1/status");
    let count = |kind: &str| {
        status["oversight"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == kind)
            .unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(count("reader_created"), 2, "cwc and cwc2");
    assert_eq!(count("reader_role_given"), 1);
    assert_eq!(count("password_reset"), 1);
    assert!(status["recent"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "password_reset" && e["target"] == cwc_id.as_str()));
    assert_eq!(
        metric(&s, "handover_oversight_events{kind=\"reader_created\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&s, "handover_oversight_events{kind=\"password_reset\"}"),
        Some(1.0)
    );
    // Staff may not read the status.
    let staff = s.user(&admin, "staff", "shelter_staff", "institution:home-1");
    assert_eq!(
        problem(s.get(&staff, "/api/v1/status").send().unwrap()).0,
        403
    );
}

#[test]
fn disabling_revokes_for_good_and_enabling_brings_nothing_back() {
    let (_tmp, s, admin) = node(&[]);
    let staff = s.user(&admin, "staff", "shelter_staff", "institution:home-1");
    assert_eq!(
        s.get(&staff, "/api/v1/children").send().unwrap().status(),
        200
    );
    for step in ["disable", "enable"] {
        let r = s
            .post(&admin, &format!("/api/v1/users/staff/{step}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = s.get(&staff, "/api/v1/children").send().unwrap();
    assert_eq!(problem(r).0, 401, "the stolen session stays dead");
    // The refused token is in the audit log, by its id only.
    assert!(audit(&s.data).iter().any(|l| l["action"] == "authenticate"
        && l["decision"] == "deny"
        && l["target"].as_str().unwrap().ends_with(":revoked")));
    assert!(!s.login("staff", "staff-password-long").is_empty());
}

#[test]
fn concurrent_guesses_are_counted_before_the_password_is_checked() {
    let (_tmp, s, admin) = node(&[BY_HEADER]);
    let _ = s.user(&admin, "staff", "shelter_staff", "institution:home-1");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let s = &s;
                scope.spawn(move || {
                    login_from(s, "10.9.9.9", "staff", &format!("wrong-guess-{i:04}"))
                        .status()
                        .as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + throttled, 40, "{statuses:?}");
    assert!(checked <= 5, "{checked} guesses were checked: {statuses:?}");
    // Refused and throttled logins are audited, without the name tried.
    let lines = audit(&s.data);
    assert!(lines
        .iter()
        .any(|l| l["action"] == "login" && l["target"] == "login:throttled"));
    assert!(!std::fs::read_to_string(s.data.join("audit.log"))
        .unwrap()
        .contains("wrong-guess"));
}

#[test]
fn nobody_can_lock_a_user_out() {
    let (_tmp, s, _admin) = node(&[BY_HEADER]);
    // Many guesses at the admin's password, from many places.
    for i in 0..60 {
        let _ = login_from(
            &s,
            &format!("10.0.{}.1", i % 6),
            "admin",
            "not-the-password-x",
        );
    }
    let r = login_from(&s, "10.0.0.1", "admin", ADMIN_PASSWORD);
    assert_eq!(
        problem(r).0,
        429,
        "a guessing client waits, right password or not"
    );
    let r = login_from(&s, "10.0.0.1", "admin", ADMIN_PASSWORD);
    assert!(r.headers().contains_key("retry-after"));
    // The real admin, from a client with no failures, gets in at once.
    let r = login_from(&s, "192.168.7.20", "admin", ADMIN_PASSWORD);
    assert_eq!(r.status(), 201);
}

#[test]
fn an_unknown_name_costs_the_same_password_check_as_a_known_one() {
    let (_tmp, s, admin) = node(&[BY_HEADER]);
    let _ = s.user(&admin, "staff", "shelter_staff", "institution:home-1");
    let _ = client()
        .post(s.url("/api/v1/users"))
        .bearer_auth(&admin)
        .json(&json!({"name": "service", "role": "admin", "scope": "department:test-dcpu"}))
        .send()
        .unwrap();
    let checks = || metric(&s, "handover_password_checks_total").unwrap_or(0.0);
    for (i, name) in ["staff", "nobody-here", "service"].iter().enumerate() {
        let before = checks();
        let r = login_from(&s, &format!("10.2.0.{i}"), name, "some-wrong-password");
        assert_eq!(problem(r).0, 401, "{name}");
        assert_eq!(checks() - before, 1.0, "{name}: one Argon2 check");
    }
}

#[test]
fn weak_passwords_are_refused_by_name_and_never_echoed() {
    let (_tmp, s, admin) = node(&[]);
    for weak in [
        "aaaaaaaaaaaa",
        "            ",
        "password1234",
        "123456789012",
    ] {
        let r = s.post_json(
            &admin,
            "/api/v1/users",
            json!({"name": "weak", "role": "shelter_staff", "scope": "institution:h", "password": weak}),
        );
        let status = r.status().as_u16();
        let body = r.text().unwrap();
        assert_eq!(status, 422, "{weak:?}");
        assert!(body.contains("weak-password"), "{body}");
        assert!(
            !body.contains(weak.trim()) || weak.trim().is_empty(),
            "{body}"
        );
    }
}

#[test]
fn the_first_admin_password_never_reaches_the_terminal() {
    let tmp = TempDir::new().unwrap();
    let s = Server::start(
        &tmp.path().join("node"),
        common::server::free_port(),
        "test-dcpu",
        &[],
    );
    let file = s.data.join("initial-admin-password");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let one_time = s.admin_password.clone().unwrap();
    let log = std::fs::read_to_string(s.log_path()).unwrap();
    assert!(!log.contains(&one_time), "the password is not in the log");
    // It works once, to set a new one; then the file is gone.
    let r = login_from(&s, "10.3.0.1", "admin", &one_time);
    assert_eq!(
        problem(r),
        (403, "urn:handover:problem:password-change-required".into())
    );
    let _ = s.admin();
    assert!(!file.exists());
}

/// A node of the demo destination with the demo source in its directory,
/// and a bundle for it made at the source.
struct Inbox {
    _src: common::Node,
    dst: common::Node,
    server: Server,
    bundles: Vec<Vec<u8>>,
    officer: String,
}

fn inbox(env: &[(&str, &str)], bundles: usize) -> Inbox {
    let (src, dst) = two_nodes();
    let mut made = Vec::new();
    for i in 0..bundles {
        let (child, _) = child_with(&src, &format!("Synthetic Child {i}"), &["fir"], 40_000);
        made.push(
            std::fs::read(create(
                &src,
                &child,
                &format!("b{i}.bundle"),
                &["--allow-incomplete", "synthetic test bundle"],
            ))
            .unwrap(),
        );
    }
    dst.cmd()
        .args(["user", "add", "swd", "--role", "swd_officer", "--scope"])
        .arg(format!("department:{DEST}"))
        .arg("--no-password")
        .assert()
        .success();
    let out = dst.cmd().args(["token", "create", "swd"]).output().unwrap();
    let officer = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let server = Server::start(&dst.data, common::server::free_port(), DEST, env);
    Inbox {
        _src: src,
        dst,
        server,
        bundles: made,
        officer,
    }
}

fn partials(data: &Path) -> usize {
    std::fs::read_dir(data.join("inbox"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(".partial-"))
                .count()
        })
        .unwrap_or(0)
}

/// Sends an HTTP/1.1 POST head declaring `length` body bytes, then `body`.
fn raw_post(port: u16, path: &str, length: u64, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n"
    )
    .unwrap();
    // The server may answer and close before it has read it all.
    let _ = stream.write_all(body);
    let _ = stream.flush();
    stream
}

/// The status line of the answer on `stream`, waiting at most `secs`.
fn answer(stream: &mut TcpStream, secs: u64) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(secs)))
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline && !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn unsigned_junk_is_refused_from_its_first_bytes_and_never_stored() {
    let t = inbox(&[], 1);
    let port = t.server.port;
    // 1 GB of zeros declared: refused after the first bytes, long before
    // the rest could be sent.
    let mut stream = raw_post(port, "/api/v1/inbox", 1_000_000_000, &vec![0u8; 64 * 1024]);
    let status = answer(&mut stream, 10);
    assert!(status.contains(" 422 "), "{status}");
    // A stream that begins like a bundle but whose envelope was altered
    // (so its signature fails): refused once the envelope and signature
    // are read, in memory, though it declares 500 MB.
    let mut tampered = t.bundles[0].clone();
    let envelope_at = tampered
        .windows(b"\"bundle_id\"".len())
        .position(|w| w == b"\"bundle_id\"")
        .unwrap();
    tampered[envelope_at + 20] ^= 1;
    let mut stream = raw_post(port, "/api/v1/inbox", 500_000_000, &tampered[..8_000]);
    let status = answer(&mut stream, 10);
    assert!(status.contains(" 422 "), "{status}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(partials(&t.dst.data), 0);
    let items = t.server.get_json(&t.officer, "/api/v1/inbox");
    assert_eq!(items.as_array().unwrap().len(), 0);
    // Each refusal is in the audit log, with no id from the junk.
    let refusals = audit(&t.dst.data)
        .into_iter()
        .filter(|l| {
            l["action"] == "receive_transfer"
                && l["decision"] == "deny"
                && l["target"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("inbox:"))
        })
        .count();
    assert!(refusals >= 2, "{refusals}");
}

#[test]
fn a_signed_bundle_is_cut_off_at_the_size_its_envelope_implies() {
    let t = inbox(&[], 1);
    let bundle = &t.bundles[0];
    // The body declares 4 MiB more than the bundle: reading stops one byte
    // past the signed size.
    let mut body = bundle.clone();
    body.extend(std::iter::repeat_n(0u8, 64 * 1024));
    let mut stream = raw_post(
        t.server.port,
        "/api/v1/inbox",
        bundle.len() as u64 + 4 * 1024 * 1024,
        &body,
    );
    let status = answer(&mut stream, 10);
    assert!(status.contains(" 413 "), "{status}");
    assert_eq!(partials(&t.dst.data), 0);
    // A client that hangs up half-way leaves nothing behind, without a restart.
    let stream = raw_post(
        t.server.port,
        "/api/v1/inbox",
        bundle.len() as u64,
        &bundle[..bundle.len() / 2],
    );
    std::thread::sleep(Duration::from_millis(300));
    drop(stream);
    wait_for(10, "the half upload removed", || {
        (partials(&t.dst.data) == 0).then_some(())
    });
    // The whole bundle is taken, and its sender learns only that it arrived.
    let r = client()
        .post(t.server.url("/api/v1/inbox"))
        .body(bundle.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let ack: Value = r.json().unwrap();
    assert_eq!(ack["status"], "received");
    let id = ack["bundle_id"].as_str().unwrap().to_string();
    let r = t.server.post_json(
        &t.officer,
        &format!("/api/v1/inbox/{id}/refuse"),
        json!({"reason": "Zq secret reason about the case"}),
    );
    assert_eq!(r.status(), 200);
    let r = client()
        .post(t.server.url("/api/v1/inbox"))
        .body(bundle.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let ack: Value = r.json().unwrap();
    assert_eq!(ack, json!({"bundle_id": id, "status": "already_received"}));
}

#[test]
fn staged_inbox_bytes_are_bounded_per_source() {
    let mut t = inbox(&[], 2);
    // Room for one of the two bundles from this source, not both.
    let limit = (t.bundles[0].len() + t.bundles[1].len() - 1).to_string();
    t.server.stop();
    t.server = Server::start(
        &t.dst.data,
        t.server.port,
        DEST,
        &[("HANDOVER_INBOX_MAX_STAGED_BYTES_PER_SOURCE", &limit)],
    );
    let r = client()
        .post(t.server.url("/api/v1/inbox"))
        .body(t.bundles[0].clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client()
        .post(t.server.url("/api/v1/inbox"))
        .body(t.bundles[1].clone())
        .send()
        .unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(problem(r), (507, "urn:handover:problem:inbox-full".into()));
    assert_eq!(partials(&t.dst.data), 0);
}

#[test]
fn slow_bodies_are_dropped_and_the_inbox_has_its_own_turns() {
    let t = inbox(
        &[
            ("HANDOVER_BODY_IDLE_SECS", "2"),
            ("HANDOVER_MAX_CONCURRENT_INBOX", "1"),
            ("HANDOVER_MAX_CONCURRENT_REQUESTS", "6"),
        ],
        1,
    );
    let port = t.server.port;
    let bundle = &t.bundles[0];
    // One sender holds the inbox's only turn, trickling…
    let mut holder = raw_post(port, "/api/v1/inbox", bundle.len() as u64, &bundle[..4000]);
    std::thread::sleep(Duration::from_millis(300));
    // …so another push is told to come back, at once.
    let r = client()
        .post(t.server.url("/api/v1/inbox"))
        .body(bundle.clone())
        .send()
        .unwrap();
    assert_eq!(problem(r), (503, "urn:handover:problem:busy".into()));
    // Five slow logins fill the node-wide limit but a sixth request waits
    // only until the idle limit drops them.
    let slow: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(s, "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{{").unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let r = client().get(t.server.url("/healthz")).send().unwrap();
    assert_eq!(r.status(), 200);
    let waited = started.elapsed();
    // The trickling inbox sender and the silent logins were cut off.
    let status = answer(&mut holder, 10);
    assert!(status.is_empty() || !status.contains(" 201 "), "{status}");
    drop(slow);
    wait_for(10, "the inbox turn back", || {
        let r = client()
            .post(t.server.url("/api/v1/inbox"))
            .body(bundle.clone())
            .send()
            .unwrap();
        (r.status() == 201).then_some(())
    });
    assert_eq!(partials(&t.dst.data), 0);
    eprintln!("a request behind five silent bodies waited {waited:?}");
}

#[test]
fn made_up_methods_share_one_metric_label() {
    let (_tmp, s, _admin) = node(&[]);
    for i in 0..50 {
        let method = reqwest::Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        let _ = client()
            .request(method, s.url("/api/v1/children"))
            .send()
            .unwrap();
    }
    let text = client()
        .get(s.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!text.contains("BREW"), "no client-made label");
    assert!(text.contains("method=\"other\""));
}

#[test]
fn metrics_can_require_their_own_token() {
    let (_tmp, s, admin) = node(&[("HANDOVER_METRICS_TOKEN", "scrape-token-for-tests")]);
    let r = client().get(s.url("/metrics")).send().unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .get(s.url("/metrics"))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "a user's token is not the metrics token");
    let r = client()
        .get(s.url("/metrics"))
        .bearer_auth("scrape-token-for-tests")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn every_answer_carries_the_security_headers_and_errors_name_fields_not_values() {
    let (_tmp, s, admin) = node(&[]);
    for r in [
        s.get(&admin, "/api/v1/users").send().unwrap(),
        client().get(s.url("/healthz")).send().unwrap(),
        client().get(s.url("/no/such/route")).send().unwrap(),
    ] {
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["referrer-policy"], "no-referrer");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
        assert!(!h.contains_key("strict-transport-security"), "plain HTTP");
    }
    let marker = "ZqEchoMarker";
    let r = s.post_json(
        &admin,
        "/api/v1/users",
        json!({"name": "x1", "role": marker, "scope": "institution:h"}),
    );
    assert!(!r.text().unwrap().contains(marker));
    let r = s.post_json(
        &admin,
        "/api/v1/grants",
        json!({"to": "x", "child_id": marker, "kinds": [marker], "purpose": "restoration", "until": "2030-01-01"}),
    );
    let body = r.text().unwrap();
    assert!(!body.contains(marker), "{body}");
    let r = s
        .get(&admin, &format!("/api/v1/children/{marker}"))
        .send()
        .unwrap();
    let body = r.text().unwrap();
    assert!(!body.contains(marker), "{body}");
    // The malformed id was audited as a refused lookup.
    assert!(audit(&s.data)
        .iter()
        .any(|l| l["action"] == "lookup" && l["target"] == "malformed:child"));
}

#[test]
fn names_and_titles_with_controls_overrides_or_nothing_visible_are_refused() {
    let (_tmp, s, admin) = node(&[]);
    let staff = s.user(&admin, "staff", "shelter_staff", "institution:home-1");
    for name in [
        "Asha\u{1b}[2J",
        "Asha\u{202E}lahsA",
        "\u{200B}\u{200B}",
        "\u{3164}",
    ] {
        let r = s.post_json(&staff, "/api/v1/children", json!({"name": name}));
        assert_eq!(
            problem(r),
            (422, "urn:handover:problem:invalid-field".into()),
            "{name:?}"
        );
    }
    assert_eq!(s.get_json(&staff, "/api/v1/children"), json!([]));
    let child = s.create(&staff, "/api/v1/children", json!({"name": "सीता"}), 201);
    let r = s
        .post(&staff, &format!("/api/v1/children/{child}/documents"))
        .header("X-Handover-Kind", "fir")
        .header("X-Handover-Title", "scan\u{2067}")
        .body(common::pdf(2_000, "x"))
        .send()
        .unwrap();
    // The header carries the UTF-8 bytes; the vault refuses the override.
    assert_eq!(problem(r).0, 422);
    let docs = s.get_json(&staff, &format!("/api/v1/children/{child}/documents"));
    assert_eq!(docs, json!([]));
}

#[test]
fn script_passed_off_as_text_is_refused_and_text_is_served_as_text() {
    let (_tmp, s, admin) = node(&[]);
    let (staff, child) = staff_and_child(&s, &admin);
    let upload = |body: &[u8]| {
        s.post(&staff, &format!("/api/v1/children/{child}/documents"))
            .header("X-Handover-Kind", "other")
            .header("X-Handover-Title", "a note")
            .body(body.to_vec())
            .send()
            .unwrap()
    };
    for markup in [
        &b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"[..],
        b"note\n<script>fetch('/api/v1/children')</script>",
        b"<html><body>hi</body></html>",
    ] {
        let r = upload(markup);
        assert_eq!(
            problem(r),
            (422, "urn:handover:problem:document-refused".into())
        );
    }
    let r = upload("a plain note: 3 < 4, राम".as_bytes());
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .get(&staff, &format!("/api/v1/documents/{id}/content"))
        .send()
        .unwrap();
    let h = r.headers();
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let docs = s.get_json(&staff, &format!("/api/v1/children/{child}/documents"));
    assert_eq!(
        docs.as_array().unwrap().len(),
        1,
        "only the plain note is stored"
    );
}

#[test]
fn an_upload_whose_client_hangs_up_leaves_no_blob_while_the_server_runs() {
    let (_tmp, s, admin) = node(&[("HANDOVER_REQUEST_TIMEOUT_SECS", "2")]);
    let (staff, child) = staff_and_child(&s, &admin);
    let pdf = common::pdf(1_000_000, "hang-up");
    let mut stream = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    write!(
        stream,
        "POST /api/v1/children/{child}/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {staff}\r\nX-Handover-Kind: fir\r\nContent-Length: {}\r\n\r\n",
        pdf.len()
    )
    .unwrap();
    stream.write_all(&pdf[..300_000]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    drop(stream);
    let blobs = s.data.join("blobs");
    let count = || common::files_under(&blobs).len();
    wait_for(60, "the abandoned upload swept", || {
        (count() == 0).then_some(())
    });
    let docs = s.get_json(&staff, &format!("/api/v1/children/{child}/documents"));
    assert_eq!(docs, json!([]));
}

#[test]
fn one_byte_range_is_served_and_others_are_refused() {
    let (_tmp, s, admin) = node(&[]);
    let (staff, child) = staff_and_child(&s, &admin);
    let doc = common::pdf(10_000, "range");
    let r = s
        .post(&staff, &format!("/api/v1/children/{child}/documents"))
        .header("X-Handover-Kind", "fir")
        .body(doc.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let get = |range: Option<&str>| {
        let mut req = s.get(&staff, &format!("/api/v1/documents/{id}/content"));
        if let Some(r) = range {
            req = req.header("Range", r);
        }
        req.send().unwrap()
    };
    let size = doc.len();
    let r = get(None);
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().unwrap().as_ref(), &doc[..]);
    for (range, from, to) in [
        ("bytes=0-99", 0, 99),
        ("bytes=9000-", 9000, size - 1),
        ("bytes=-100", size - 100, size - 1),
        ("bytes=-999999", 0, size - 1),
        ("bytes=100-999999", 100, size - 1),
    ] {
        let r = get(Some(range));
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {from}-{to}/{size}").as_str(),
            "{range}"
        );
        assert_eq!(r.bytes().unwrap().as_ref(), &doc[from..=to], "{range}");
    }
    let r = get(Some(&format!("bytes={size}-")));
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );
    for malformed in ["bytes=0-1,5-6", "items=0-1", "bytes=9-0", "bytes=a-b"] {
        let r = get(Some(malformed));
        assert_eq!(
            problem(r),
            (400, "urn:handover:problem:invalid-request".into()),
            "{malformed}"
        );
    }
}
