//! Two real nodes (`handover serve`) on loopback ports: the whole hand-over
//! over HTTP, a destination that is down and one killed mid-receive, and
//! what each role may do through the API. Synthetic data only.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::pdf;
use common::server::{introduce, problem, wait_for, Server};
use serde_json::{json, Value};
use tempfile::TempDir;

const SRC: &str = "src-dcpu";
const DST: &str = "dst-swd";
const DISTRICT: &str = "rajasthan/jaipur";

/// Fast retries, so a node that comes back is reached within seconds.
const FAST_RETRY: &[(&str, &str)] = &[
    ("HANDOVER_PUSH_RETRY_FIRST_SECS", "1"),
    ("HANDOVER_PUSH_RETRY_MAX_SECS", "2"),
];

struct Pair {
    _tmp: TempDir,
    src: Server,
    dst: Server,
    staff: String,
    cwc: String,
    swd: String,
}

fn pair() -> Pair {
    let tmp = TempDir::new().unwrap();
    let src = Server::start(
        &tmp.path().join("src"),
        common::server::free_port(),
        SRC,
        FAST_RETRY,
    );
    let dst = Server::start(
        &tmp.path().join("dst"),
        common::server::free_port(),
        DST,
        FAST_RETRY,
    );
    let (src_admin, dst_admin) = (src.admin(), dst.admin());
    introduce(&src, &src_admin, &dst, &dst_admin);
    let staff = src.user(&src_admin, "staff", "shelter_staff", "institution:home-1");
    let cwc = src.user(
        &src_admin,
        "cwc",
        "cwc_member",
        &format!("district:{DISTRICT}"),
    );
    let swd = dst.user(
        &dst_admin,
        "swd",
        "swd_officer",
        &format!("department:{DST}"),
    );
    Pair {
        _tmp: tmp,
        src,
        dst,
        staff,
        cwc,
        swd,
    }
}

/// A child with two documents at the source; returns its id and the documents' bytes.
fn child_with_documents(p: &Pair) -> (String, Vec<Vec<u8>>) {
    let child = p.src.create(
        &p.staff,
        "/api/v1/children",
        json!({"name": "Synthetic Child", "district": DISTRICT}),
        201,
    );
    let docs = vec![pdf(200_000, "fir-marker"), pdf(90_000, "medical-marker")];
    for (kind, bytes) in ["fir", "medical_report"].iter().zip(&docs) {
        let r = p
            .src
            .post(&p.staff, &format!("/api/v1/children/{child}/documents"))
            .header("X-Handover-Kind", *kind)
            .header("X-Handover-Title", "synthetic scan")
            .body(bytes.clone())
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    (child, docs)
}

/// Drafts, submits (CWC override: the checklist is incomplete), approves.
fn approved_transfer(p: &Pair, child: &str) -> String {
    let t = p.src.create(
        &p.staff,
        "/api/v1/transfers",
        json!({"child_id": child, "to": DST}),
        201,
    );
    // Staff may not submit with gaps in the checklist.
    let r = p
        .src
        .post(&p.staff, &format!("/api/v1/transfers/{t}/submit"))
        .send()
        .unwrap();
    assert_eq!(
        problem(r),
        (422, "urn:handover:problem:checklist-incomplete".into())
    );
    let r = p.src.post_json(
        &p.cwc,
        &format!("/api/v1/transfers/{t}/submit"),
        json!({"override_reason": "papers follow; child must travel before the monsoon"}),
    );
    assert_eq!(r.status(), 200);
    // Staff cannot approve.
    let r = p.src.post_json(
        &p.staff,
        &format!("/api/v1/transfers/{t}/approve"),
        json!({"order_number": "CWC/JPR/2026/114"}),
    );
    assert_eq!(problem(r).0, 404);
    let r = p.src.post_json(
        &p.cwc,
        &format!("/api/v1/transfers/{t}/approve"),
        json!({"order_number": "CWC/JPR/2026/114"}),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["state"], "approved");
    t
}

fn send(p: &Pair, t: &str) -> Value {
    let r = p
        .src
        .post(&p.staff, &format!("/api/v1/transfers/{t}/send"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let sent: Value = r.json().unwrap();
    assert_eq!(sent["pushed"], true);
    assert_eq!(sent["transfer"]["state"], "sent");
    sent
}

fn inbox(p: &Pair) -> Vec<Value> {
    p.dst
        .get_json(&p.swd, "/api/v1/inbox")
        .as_array()
        .unwrap()
        .clone()
}

fn wait_delivered(p: &Pair, t: &str) {
    wait_for(60, "the transfer to be delivered", || {
        let v = p.src.get_json(&p.staff, &format!("/api/v1/transfers/{t}"));
        (v["state"] == "delivered").then_some(())
    });
}

#[test]
fn a_transfer_goes_from_one_node_to_the_other_and_comes_back_delivered() {
    let p = pair();
    let (child, docs) = child_with_documents(&p);
    let t = approved_transfer(&p, &child);
    let sent = send(&p, &t);
    let bundle_id = sent["bundle_id"].as_str().unwrap().to_string();

    let item = wait_for(60, "the bundle in the inbox", || {
        inbox(&p).into_iter().next()
    });
    assert_eq!(item["bundle_id"], bundle_id.as_str());
    assert_eq!(item["source"], SRC);
    assert_eq!(item["documents"], 2);
    assert_eq!(item["state"], "waiting");
    let r = p
        .dst
        .post(&p.swd, &format!("/api/v1/inbox/{bundle_id}/accept"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let accepted: Value = r.json().unwrap();
    let new_child = accepted["inbox"]["child_id"].as_str().unwrap().to_string();
    wait_delivered(&p, &t);

    // The documents arrived byte for byte.
    let view = p
        .dst
        .get_json(&p.swd, &format!("/api/v1/children/{new_child}"));
    let arrived = view["documents"].as_array().unwrap();
    assert_eq!(arrived.len(), 2);
    for (doc, original) in arrived.iter().zip(&docs) {
        let id = doc["id"].as_str().unwrap();
        let r = p
            .dst
            .get(&p.swd, &format!("/api/v1/documents/{id}/content"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["etag"].to_str().unwrap(),
            format!("\"{}\"", doc["sha256"].as_str().unwrap())
        );
        assert_eq!(r.bytes().unwrap().as_ref(), original.as_slice());
    }
    // Accepting again is refused; the receipt already went back.
    let r = p
        .dst
        .post(&p.swd, &format!("/api/v1/inbox/{bundle_id}/accept"))
        .send()
        .unwrap();
    assert_eq!(problem(r), (409, "urn:handover:problem:conflict".into()));
    let v = p.src.get_json(&p.staff, &format!("/api/v1/transfers/{t}"));
    let steps: Vec<_> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["step"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(steps, ["submit", "approve", "send", "deliver"]);
}

#[test]
fn a_refusal_in_the_inbox_goes_back_signed_and_the_transfer_is_refused() {
    let p = pair();
    let (child, _) = child_with_documents(&p);
    let t = approved_transfer(&p, &child);
    let sent = send(&p, &t);
    let bundle_id = sent["bundle_id"].as_str().unwrap().to_string();
    wait_for(60, "the bundle in the inbox", || {
        inbox(&p).into_iter().next()
    });
    let r = p
        .dst
        .post(&p.swd, &format!("/api/v1/inbox/{bundle_id}/refuse"))
        .json(&serde_json::json!({"reason": "the FIR copy is unreadable; please rescan"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let refused: Value = r.json().unwrap();
    assert_eq!(refused["state"], "refused");
    let text: Value =
        serde_json::from_str(refused["refusal"]["refusal"].as_str().unwrap()).unwrap();
    assert_eq!(text["format"], "handover-refusal/1");
    assert_eq!(text["bundle_id"], bundle_id.as_str());
    // Nothing was imported at the destination.
    let listed = p.dst.get_json(&p.swd, "/api/v1/children");
    assert!(listed.as_array().unwrap().is_empty(), "{listed}");
    // The refusal reaches the source: the transfer is refused, with the reason.
    let v = wait_for(60, "the transfer to be refused", || {
        let v = p.src.get_json(&p.staff, &format!("/api/v1/transfers/{t}"));
        (v["state"] == "refused").then_some(v)
    });
    let last = v["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["step"], "refuse");
    assert_eq!(last["reason"], "the FIR copy is unreadable; please rescan");
    // The same refusal pushed again changes nothing; it cannot be accepted now.
    let again = reqwest::blocking::Client::new()
        .post(p.src.url("/api/v1/receipts"))
        .body(serde_json::to_vec(&refused["refusal"]).unwrap())
        .send()
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().unwrap()["already"], true);
    let r = p
        .dst
        .post(&p.swd, &format!("/api/v1/inbox/{bundle_id}/accept"))
        .send()
        .unwrap();
    assert_eq!(problem(r), (409, "urn:handover:problem:conflict".into()));
}

#[test]
fn a_destination_that_is_down_or_killed_mid_receive_still_gets_the_bundle_once() {
    let mut p = pair();
    let (child, _) = child_with_documents(&p);
    let t = approved_transfer(&p, &child);
    p.dst.stop();
    let sent = send(&p, &t);
    let bundle_id = sent["bundle_id"].as_str().unwrap().to_string();
    let r = p
        .src
        .get(&p.staff, &format!("/api/v1/transfers/{t}/bundle"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let bundle = r.bytes().unwrap().to_vec();
    std::thread::sleep(Duration::from_secs(3)); // a few failed attempts

    // Back up; a partial upload is cut by a kill.
    p.dst.restart();
    let mut stream = TcpStream::connect(("127.0.0.1", p.dst.port)).unwrap();
    write!(
        stream,
        "POST /api/v1/inbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/zip\r\nContent-Length: {}\r\n\r\n",
        bundle.len()
    )
    .unwrap();
    stream.write_all(&bundle[..bundle.len() / 2]).unwrap();
    stream.flush().unwrap();
    let inbox_dir = p.dst.data.join("inbox");
    let partial = || {
        std::fs::read_dir(&inbox_dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with(".partial-"))
                    .count()
            })
            .unwrap_or(0)
    };
    wait_for(10, "the half upload on disk", || {
        (partial() > 0).then_some(())
    });
    p.dst.kill();
    drop(stream);
    assert!(partial() > 0, "the kill left the half upload behind");

    p.dst.restart();
    assert_eq!(partial(), 0, "a restart clears half uploads");
    let item = wait_for(60, "the retried push", || inbox(&p).into_iter().next());
    assert_eq!(item["bundle_id"], bundle_id.as_str());
    // The same bundle delivered again is stored once.
    let r = common::server::client()
        .post(p.dst.url("/api/v1/inbox"))
        .body(bundle.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(inbox(&p).len(), 1);
    let r = p
        .dst
        .post(&p.swd, &format!("/api/v1/inbox/{bundle_id}/accept"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_delivered(&p, &t);
    let children = p.dst.get_json(&p.swd, "/api/v1/children");
    assert_eq!(children.as_array().unwrap().len(), 1, "imported once");
}

#[test]
fn the_inbox_refuses_what_does_not_verify_and_stores_nothing() {
    let p = pair();
    let (child, _) = child_with_documents(&p);
    let t = approved_transfer(&p, &child);
    // The genuine bundle is pushed; a tampered copy of it is not stored.
    let bundle_id = send(&p, &t)["bundle_id"].as_str().unwrap().to_string();
    wait_for(60, "the genuine push", || {
        (inbox(&p).len() == 1).then_some(())
    });
    let r = p
        .src
        .get(&p.staff, &format!("/api/v1/transfers/{t}/bundle"))
        .send()
        .unwrap();
    let mut bundle = r.bytes().unwrap().to_vec();
    let mid = bundle.len() / 2;
    bundle[mid] ^= 0x01;
    let r = common::server::client()
        .post(p.dst.url("/api/v1/inbox"))
        .body(bundle)
        .send()
        .unwrap();
    assert_eq!(
        problem(r),
        (422, "urn:handover:problem:bundle-refused".into())
    );
    let r = common::server::client()
        .post(p.dst.url("/api/v1/inbox"))
        .body(b"not a bundle at all".to_vec())
        .send()
        .unwrap();
    assert_eq!(problem(r).0, 422);
    let items = inbox(&p);
    assert_eq!(items.len(), 1, "only the genuine push landed");
    assert_eq!(items[0]["bundle_id"], bundle_id.as_str());
    let stray: Vec<_> = std::fs::read_dir(p.dst.data.join("inbox"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".partial-"))
        .collect();
    assert!(stray.is_empty());
    // A receipt nobody signed is refused.
    let r = common::server::client()
        .post(p.src.url("/api/v1/receipts"))
        .body(b"{\"receipt\":\"{}\",\"signature\":\"x\"}".to_vec())
        .send()
        .unwrap();
    assert_eq!(problem(r).0, 422);
}

#[test]
fn roles_get_403_or_an_unrevealing_404_through_http() {
    let p = pair();
    let (child, _) = child_with_documents(&p);
    let admin = p.src.admin();
    let outsider = p
        .src
        .user(&admin, "other-home", "shelter_staff", "institution:home-2");
    let support = p
        .src
        .user(&admin, "helper", "support_person", "department:src-dcpu");
    let made_up = "01900000-0000-7000-8000-000000000000";
    let docs = p
        .src
        .get_json(&p.staff, &format!("/api/v1/children/{child}/documents"));
    let doc = docs[0]["id"].as_str().unwrap().to_string();

    // No token, a bad token.
    let r = common::server::client()
        .get(p.src.url("/api/v1/children"))
        .send()
        .unwrap();
    assert_eq!(
        problem(r),
        (401, "urn:handover:problem:unauthenticated".into())
    );
    let r = p
        .src
        .get("hov_not-a-token", "/api/v1/children")
        .send()
        .unwrap();
    assert_eq!(problem(r).0, 401);

    for (who, token) in [
        ("outsider", &outsider),
        ("support person", &support),
        ("admin", &admin),
    ] {
        for path in [
            format!("/api/v1/children/{child}"),
            format!("/api/v1/documents/{doc}"),
            format!("/api/v1/documents/{doc}/content"),
            format!("/api/v1/children/{child}/access-log"),
        ] {
            let r = p.src.get(token, &path).send().unwrap();
            let seen = problem(r);
            assert_eq!(
                seen,
                (404, "urn:handover:problem:not-found".into()),
                "{who} {path}"
            );
            // Exactly what a made-up id gets.
            let fake = path.replace(&child, made_up).replace(&doc, made_up);
            let r = p.src.get(token, &fake).send().unwrap();
            assert_eq!(problem(r), seen, "{who} {fake}");
        }
    }
    // Node-wide actions: 403.
    let r = p.src.get(&p.staff, "/api/v1/users").send().unwrap();
    assert_eq!(problem(r), (403, "urn:handover:problem:forbidden".into()));
    let r = p.src.get(&admin, "/api/v1/children").send().unwrap();
    assert_eq!(problem(r).0, 403);
    let r = p.src.get(&p.staff, "/api/v1/inbox").send().unwrap();
    assert_eq!(problem(r).0, 403);
    // The CWC member of the district reads; the staff member's own child too.
    assert_eq!(
        p.src
            .get(&p.cwc, &format!("/api/v1/children/{child}"))
            .send()
            .unwrap()
            .status(),
        200
    );
    let log = p
        .src
        .get_json(&p.cwc, &format!("/api/v1/children/{child}/access-log"));
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["decision"] == "deny"));
    // Bad JSON and unknown routes are problems too.
    let r = p
        .src
        .post(&p.staff, "/api/v1/children")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .unwrap();
    assert_eq!(problem(r).0, 400);
    let r = p.src.get(&p.staff, "/api/v1/nothing-here").send().unwrap();
    assert_eq!(problem(r).0, 404);
}

#[test]
fn no_name_title_or_content_reaches_logs_metrics_or_errors() {
    let mut p = pair();
    let name = "Marker Childname Zq";
    let title = "Marker Title Xv";
    let r = p.src.post_json(
        &p.staff,
        "/api/v1/children",
        json!({"name": name, "district": DISTRICT, "notes": "marker-note-Wk"}),
    );
    let child = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let content = pdf(50_000, "marker-content-Yj");
    let r = p
        .src
        .post(
            &p.staff,
            &format!("/api/v1/children/{child}/documents?kind=other&title=Marker%20Title%20Xv"),
        )
        .body(content)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    // Refusals and bad input name no personal fact either.
    let outsider = p.src.user(
        &p.src.admin(),
        "outsider",
        "shelter_staff",
        "institution:home-9",
    );
    let r = p
        .src
        .get(&outsider, &format!("/api/v1/children/{child}"))
        .send()
        .unwrap();
    let body = r.text().unwrap();
    assert!(!body.contains("Marker"), "{body}");
    let r = p
        .src
        .post(
            &p.staff,
            &format!("/api/v1/children/{child}/documents?kind=other&title=Marker%20Title%20Xv"),
        )
        .body(b"MZ not a document Marker".to_vec())
        .send()
        .unwrap();
    let body = r.text().unwrap();
    assert!(!body.contains("Marker"), "{body}");
    let metrics = common::server::client()
        .get(p.src.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("route=\"/api/v1/children/{id}/documents\""));
    for needle in [name, title, "marker", &child] {
        assert!(!metrics.contains(needle), "metrics hold {needle}");
    }
    p.src.stop();
    let log = std::fs::read_to_string(p.src.log_path()).unwrap();
    assert!(log.contains("request"), "the server logged its requests");
    for needle in [name, title, "Marker", "marker-", "Title"] {
        assert!(!log.contains(needle), "the log holds {needle}");
    }
}

#[test]
fn with_a_certificate_and_key_the_server_speaks_only_https() {
    if !common::have("openssl") {
        panic!("openssl is needed to make the test certificate (Debian package openssl)");
    }
    let tmp = TempDir::new().unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=handover test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = common::server::free_port();
    let server = Server::start(
        &tmp.path().join("node"),
        port,
        "tls-node",
        &[
            ("HANDOVER_TLS_CERT", cert.to_str().unwrap()),
            ("HANDOVER_TLS_KEY", key.to_str().unwrap()),
        ],
    );
    // A self-signed certificate is its own CA, which webpki refuses as a
    // server certificate: this client checks the transport, not the chain.
    let client = reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let r = client
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let card: Value = client
        .get(format!("https://127.0.0.1:{port}/api/v1/departments/self"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        card["inbox_url"],
        format!("https://127.0.0.1:{port}/api/v1/inbox")
    );
    // Plain HTTP gets no answer from a TLS port.
    assert!(common::server::client()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .map(|r| !r.status().is_success())
        .unwrap_or(true));
    drop(server);
}
