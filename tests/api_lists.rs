//! Lists through a real `handover serve`: pages with `limit` and a
//! cursor (`after`, from the `Link: rel="next"` header), name search in
//! Latin and Devanagari, the caller's scope, bad page parameters, and the
//! access history a page at a time, checked against the audit log by
//! `handover audit verify`. Synthetic data only.

mod common;

use std::collections::BTreeSet;

use common::server::{problem, Server};
use serde_json::{json, Value};
use tempfile::TempDir;

const DISTRICT: &str = "rajasthan/jaipur";

struct Node {
    _tmp: TempDir,
    server: Server,
    admin: String,
    staff: String,
}

fn node() -> Node {
    let tmp = TempDir::new().unwrap();
    let server = Server::start(
        &tmp.path().join("node"),
        common::server::free_port(),
        "list-dcpu",
        &[],
    );
    let admin = server.admin();
    let staff = server.user(&admin, "meena", "shelter_staff", "institution:cci-list-01");
    Node {
        _tmp: tmp,
        server,
        admin,
        staff,
    }
}

/// GET a list: the rows and the `after` of the next page, if any.
fn page(s: &Server, token: &str, path: &str) -> (Vec<Value>, Option<String>) {
    let r = s.get(token, &format!("/api/v1{path}")).send().unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    let next = r
        .headers()
        .get("link")
        .map(|l| l.to_str().unwrap().to_string());
    let rows: Vec<Value> = r.json().unwrap();
    let next = next.map(|link| {
        assert!(link.ends_with("rel=\"next\""), "{link}");
        let url = link[1..link.find('>').unwrap()].to_string();
        assert!(url.starts_with("/api/v1/"), "{url}");
        url.trim_start_matches("/api/v1").to_string()
    });
    (rows, next)
}

/// Every row of a list, following the `Link` headers.
fn all_pages(s: &Server, token: &str, first: &str) -> (Vec<Value>, usize) {
    let mut rows = Vec::new();
    let mut next = Some(first.to_string());
    let mut pages = 0;
    while let Some(path) = next {
        let (got, n) = page(s, token, &path);
        rows.extend(got);
        pages += 1;
        next = n;
        assert!(pages < 100, "the pages never end");
    }
    (rows, pages)
}

fn names(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn children_come_in_pages_by_name_and_the_search_finds_any_script() {
    let n = node();
    let s = &n.server;
    let mut made = Vec::new();
    for i in 0..23 {
        let name = format!("Synthetic Child {i:02}");
        made.push(name.clone());
        s.create(
            &n.staff,
            "/api/v1/children",
            json!({"name": name, "home_state": "Bihar"}),
            201,
        );
    }
    for name in ["सीमा कुमारी", "Anil SEEMA Das", "आशा देवी"] {
        made.push(name.to_string());
        s.create(&n.staff, "/api/v1/children", json!({"name": name}), 201);
    }
    // Another home's child, never listed for this staff member.
    let other = s.user(&n.admin, "ravi", "shelter_staff", "institution:cci-list-02");
    s.create(
        &other,
        "/api/v1/children",
        json!({"name": "Synthetic Other Home"}),
        201,
    );

    // Pages of 10: three pages, each at most 10, in name order, no repeats.
    let (rows, pages) = all_pages(s, &n.staff, "/children?limit=10");
    assert_eq!(pages, 3);
    let got = names(&rows);
    let mut want: Vec<String> = made.clone();
    want.sort_by_key(|n| n.to_lowercase());
    assert_eq!(got, want);
    // The default page is 50 rows: everything fits, no Link.
    let (rows, next) = page(s, &n.staff, "/children");
    assert_eq!(rows.len(), made.len());
    assert!(next.is_none());

    // A page's cursor stays right while rows are added before it.
    let (first, next) = page(s, &n.staff, "/children?limit=5");
    s.create(
        &n.staff,
        "/api/v1/children",
        json!({"name": "AAA Synthetic New"}),
        201,
    );
    let (second, _) = page(s, &n.staff, &next.unwrap());
    let seen: BTreeSet<String> = names(&first).into_iter().chain(names(&second)).collect();
    assert_eq!(seen.len(), 10, "no row twice");
    assert!(!seen.contains("AAA Synthetic New"));

    // Search: case-insensitive, prefix and substring, Latin and Devanagari.
    let search = |q: &str| -> Vec<String> {
        let path = format!(
            "/children?q={}",
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let mut got = names(&all_pages(s, &n.staff, &path).0);
        got.sort();
        got
    };
    assert_eq!(search("seema"), vec!["Anil SEEMA Das"]);
    assert_eq!(search("SYNTHETIC CHILD 1").len(), 10);
    assert_eq!(search("child 07"), vec!["Synthetic Child 07"]);
    assert_eq!(search("सीमा"), vec!["सीमा कुमारी"]);
    assert_eq!(search("देवी"), vec!["आशा देवी"]);
    assert_eq!(
        search("other home"),
        Vec::<String>::new(),
        "never another home's child"
    );
    assert_eq!(search("%"), Vec::<String>::new(), "% means itself");
    // A search paged: the Link keeps the search.
    let (rows, pages) = all_pages(s, &n.staff, "/children?q=synthetic&limit=7");
    assert_eq!(rows.len(), 24);
    assert_eq!(pages, 4);

    // Bad page parameters are refused with a problem, not ignored.
    for bad in [
        "/children?limit=0",
        "/children?limit=501",
        "/children?limit=x",
    ] {
        let r = s.get(&n.staff, &format!("/api/v1{bad}")).send().unwrap();
        assert_eq!(problem(r).0, 400, "{bad}");
    }
    let long = "q".repeat(101);
    let r = s
        .get(&n.staff, &format!("/api/v1/children?q={long}"))
        .send()
        .unwrap();
    assert_eq!(problem(r).0, 400);
    let r = s
        .get(&n.staff, "/api/v1/children?after=not-an-id")
        .send()
        .unwrap();
    assert_eq!(problem(r).0, 422);
}

#[test]
fn a_district_sees_its_children_and_other_lists_page_too() {
    let n = node();
    let s = &n.server;
    let cwc = s.user(
        &n.admin,
        "cwc",
        "cwc_member",
        &format!("district:{DISTRICT}"),
    );
    let mut in_district = BTreeSet::new();
    for i in 0..6 {
        let mut body = json!({"name": format!("Synthetic Placed {i}")});
        if i % 2 == 0 {
            body["district"] = json!(DISTRICT);
        }
        let id = s.create(&n.staff, "/api/v1/children", body, 201);
        if i % 2 == 0 {
            in_district.insert(id);
        }
    }
    let (rows, _) = all_pages(s, &cwc, "/children?limit=2");
    let seen: BTreeSet<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, in_district);

    // Users, in name order, with a search.
    let (users, pages) = all_pages(s, &n.admin, "/users?limit=1");
    assert_eq!(users.len(), 3);
    assert_eq!(pages, 3);
    let user_names: Vec<&str> = users.iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(user_names, vec!["admin", "cwc", "meena"]);
    let (found, _) = page(s, &n.admin, "/users?q=EEN");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["name"], "meena");

    // Grants, transfers and the inbox answer pages (empty here) with no Link.
    for path in ["/grants?limit=5", "/transfers?limit=5"] {
        let (rows, next) = page(s, &n.admin, path);
        assert!(rows.is_empty() && next.is_none(), "{path}");
    }
    let r = s
        .get(&n.admin, "/api/v1/transfers?limit=501")
        .send()
        .unwrap();
    assert_eq!(problem(r).0, 400);
}

#[test]
fn the_access_history_pages_through_its_index_and_audit_verify_checks_it() {
    let n = node();
    let s = &n.server;
    let cwc = s.user(
        &n.admin,
        "cwc",
        "cwc_member",
        &format!("district:{DISTRICT}"),
    );
    let id = s.create(
        &n.staff,
        "/api/v1/children",
        json!({"name": "Synthetic History", "district": DISTRICT}),
        201,
    );
    for _ in 0..7 {
        s.get_json(&n.staff, &format!("/api/v1/children/{id}"));
    }
    let (rows, pages) = all_pages(s, &cwc, &format!("/children/{id}/access-log?limit=3"));
    assert!(pages >= 4, "{pages} pages");
    let seqs: Vec<u64> = rows.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first, no repeats: {seqs:?}"
    );
    assert_eq!(rows[0]["action"], "create_child");
    let reads = rows.iter().filter(|r| r["action"] == "read_record").count();
    assert!(reads >= 7, "{reads} reads");
    let r = s
        .get(&cwc, &format!("/api/v1/children/{id}/access-log?after=x"))
        .send()
        .unwrap();
    assert_eq!(problem(r).0, 400);

    // The index agrees with the log, checked while the node serves.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handover"))
        .arg("--data-dir")
        .arg(&s.data)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("audit log verified"), "{stdout}");
    assert!(stdout.contains("access-history index verified"), "{stdout}");
}
