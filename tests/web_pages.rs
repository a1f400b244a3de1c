//! The web pages over plain HTTP, as a browser without JavaScript uses
//! them: the security headers, the CSRF check, escaping, names kept out
//! of titles and URLs, sessions (cookie flags, logout, the idle limit, the
//! forced first password change), refusals that read like absent pages,
//! and an upload whose location data is removed. A real `handover serve`
//! on loopback; synthetic data only.

mod common;

use common::server::{free_port, Server, ADMIN_PASSWORD};
use common::web::{Page, Web};
use serde_json::json;

/// A node with an admin (password [`ADMIN_PASSWORD`]) and one shelter
/// staff user `staff` (password `staff-password-long`) at `home-1` in
/// `rajasthan/jaipur`.
fn node(env: &[(&str, &str)]) -> (tempfile::TempDir, Server, String) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("node"), free_port(), "rj-dcpu-jaipur", env);
    let admin = server.admin();
    server.user(&admin, "staff", "shelter_staff", "institution:home-1");
    (dir, server, admin)
}

fn staff(server: &Server) -> Web {
    let mut web = Web::new(&server.url(""));
    let r = web.login("staff", "staff-password-long");
    assert_eq!(r.status, 303, "login: {}", r.body);
    assert_eq!(r.location(), "/");
    web
}

/// Adds a child through the intake form; returns the child page's path.
fn add_child(web: &mut Web, name: &str) -> String {
    web.get("/children/new");
    let r = web.post(
        "/children/new",
        &[("name", name), ("district", "rajasthan/jaipur")],
    );
    assert_eq!(r.status, 303, "add child: {}", r.body);
    r.location()
}

/// HTML text with its character references resolved.
fn unescape(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e < 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn assert_strict_headers(p: &Page) {
    let csp = p.header("content-security-policy");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(p.header("x-content-type-options"), "nosniff");
    assert_eq!(p.header("referrer-policy"), "no-referrer");
    assert_eq!(p.header("cache-control"), "no-store");
}

#[test]
fn names_are_escaped_and_stay_out_of_titles_and_urls() {
    let (_dir, server, _) = node(&[]);
    let mut web = staff(&server);
    let hostile = [
        "<script>alert('x')</script>",
        "\"><img src=x onerror=alert(1)>",
    ];
    for name in hostile {
        let page = add_child(&mut web, name);
        assert!(page.starts_with("/children/"), "{page}");
        assert!(!page.contains("script") && !page.contains("img"), "{page}");
        let p = web.get(&page);
        assert_eq!(p.status, 200);
        assert_strict_headers(&p);
        assert!(
            !p.title().contains(name) && !p.title().contains("alert"),
            "{}",
            p.title()
        );
        assert!(!p.body.contains(name), "the name is in the page unescaped");
        assert!(!p.body.contains("<script>alert") && !p.body.contains("<img src=x"));
        // The name is in the page as text: escaped, and whole once unescaped.
        let h1 = p
            .body
            .split("<h1>")
            .nth(1)
            .unwrap()
            .split("</h1>")
            .next()
            .unwrap();
        assert!(
            !h1.contains('<') && !h1.contains('>') && !h1.contains('"'),
            "{h1}"
        );
        assert_eq!(unescape(h1), name, "the name shows as text");
    }
    let list = web.get("/children");
    assert_eq!(list.status, 200);
    for name in hostile {
        assert!(!list.body.contains(name));
        assert!(unescape(&list.body).contains(name), "listed as text");
    }
    // A search posts the name: it is never in a URL.
    let found = web.post("/children", &[("q", "script")]);
    assert_eq!(found.status, 200);
    assert!(unescape(&found.body).contains(hostile[0]));
    assert!(
        !unescape(&found.body).contains(hostile[1]),
        "the search filters"
    );
    // The personal fields are not remembered by the browser.
    let form = web.get("/children/new");
    assert!(form
        .body
        .contains("id=\"name\" name=\"name\" value=\"\" autocomplete=\"off\""));
}

#[test]
fn a_post_from_another_origin_or_without_its_form_token_changes_nothing() {
    let (_dir, server, admin) = node(&[]);
    let mut web = staff(&server);
    web.get("/children/new");
    let token = web.csrf.clone();
    let fields = [("name", "Asha Synthetic")];
    let from_elsewhere = web.post_as(
        "/children/new",
        &fields,
        Some(&token),
        Some("http://evil.example"),
    );
    assert_eq!(from_elsewhere.status, 403);
    let no_token = web.post_as("/children/new", &fields, None, Some(&server.url("")));
    assert_eq!(no_token.status, 403);
    let wrong_token = web.post_as(
        "/children/new",
        &fields,
        Some("forged"),
        Some(&server.url("")),
    );
    assert_eq!(wrong_token.status, 403);
    let no_origin = web.post_as("/children/new", &fields, Some(&token), None);
    assert_eq!(no_origin.status, 403);
    for r in [&from_elsewhere, &no_token, &wrong_token, &no_origin] {
        assert!(r.body.contains("did not come from this site"), "{}", r.body);
    }
    // Nothing was added.
    let children = server.get_json(
        &server.login("staff", "staff-password-long"),
        "/api/v1/children",
    );
    assert_eq!(children.as_array().unwrap().len(), 0, "{children}");
    // The same post with the token, from our own origin, works.
    let ok = web.post("/children/new", &fields);
    assert_eq!(ok.status, 303);
    // The bearer-token API is not subject to the form check.
    let r = server.post_json(
        &admin,
        "/api/v1/users",
        json!({"name": "svc", "role": "admin", "scope": "department:rj-dcpu-jaipur"}),
    );
    assert_eq!(r.status(), 201);
}

#[test]
fn a_page_the_role_may_not_see_reads_like_one_that_does_not_exist() {
    let (_dir, server, admin) = node(&[]);
    let mut web = staff(&server);
    let child = add_child(&mut web, "Ravi Synthetic");
    server.user(
        &admin,
        "helper",
        "support_person",
        "department:rj-dcpu-jaipur",
    );
    let mut helper = Web::new(&server.url(""));
    assert_eq!(helper.login("helper", "helper-password-long").status, 303);
    let hidden = helper.get(&child);
    let absent = helper.get("/children/01900000-0000-7000-8000-000000000000");
    let garbage = helper.get("/children/not-an-id");
    assert_eq!(hidden.status, 404);
    assert_eq!(absent.status, 404);
    assert_eq!(garbage.status, 404);
    assert_eq!(
        hidden.body, absent.body,
        "a hidden child reads like an absent one"
    );
    assert!(!hidden.body.contains("Ravi"));
    // The admin never reads children's pages either.
    let mut admin_web = Web::new(&server.url(""));
    assert_eq!(admin_web.login("admin", ADMIN_PASSWORD).status, 303);
    assert_eq!(admin_web.get(&child).status, 404);
    assert!(!admin_web.get("/children").body.contains("Ravi"));
}

#[test]
fn sessions_use_strict_cookies_and_end_at_logout() {
    let (_dir, server, _) = node(&[]);
    let mut web = Web::new(&server.url(""));
    web.get("/login");
    let r = web.post(
        "/login",
        &[("name", "staff"), ("password", "staff-password-long")],
    );
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("handover="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(cookie.contains("Path=/"));
    let secret = web.cookies["handover"].clone();
    assert!(secret.len() >= 43, "256 random bits");
    assert_eq!(web.get("/children").status, 200);
    // A new token at every login.
    let mut again = Web::new(&server.url(""));
    again.login("staff", "staff-password-long");
    assert_ne!(again.cookies["handover"], secret);
    // Logout ends the session; the old cookie no longer opens a page.
    web.get("/children");
    let out = web.post("/logout", &[]);
    assert_eq!(out.status, 303);
    assert!(!web.cookies.contains_key("handover"));
    web.cookies.insert("handover".into(), secret);
    let after = web.get("/children");
    assert_eq!(after.status, 303);
    assert_eq!(after.location(), "/login?ended=1");
    // The other session goes on.
    assert_eq!(again.get("/children").status, 200);
    // The pages of a session are never stored.
    assert_eq!(again.get("/children").header("cache-control"), "no-store");
}

#[test]
fn an_idle_session_ends_and_the_login_page_says_so() {
    let (_dir, server, _) = node(&[("HANDOVER_SESSION_IDLE_SECS", "2")]);
    let mut web = staff(&server);
    assert_eq!(web.get("/children").status, 200);
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let r = web.get("/children");
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/login?ended=1");
    let login = web.get("/login?ended=1");
    assert!(login.body.contains("Your session ended"), "{}", login.body);
}

#[test]
fn the_first_admin_login_must_choose_a_new_password() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("node"), free_port(), "rj-dcpu-jaipur", &[]);
    let one_time = server.admin_password.clone().unwrap();
    let mut web = Web::new(&server.url(""));
    let r = web.login("admin", &one_time);
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("Choose your own new password"),
        "{}",
        r.body
    );
    assert!(
        !web.cookies.contains_key("handover"),
        "no session before the change"
    );
    let weak = web.first_login("admin", &one_time, "password1234");
    assert!(weak.body.contains("too common"), "{}", weak.body);
    let ok = web.first_login("admin", &one_time, ADMIN_PASSWORD);
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(web.get("/").location(), "/admin/users");
    // The one-time password is spent.
    let mut other = Web::new(&server.url(""));
    assert_eq!(other.login("admin", &one_time).status, 401);
}

#[test]
fn an_uploaded_photo_loses_its_location_and_a_refused_file_leaves_nothing() {
    let (_dir, server, _) = node(&[]);
    let mut web = staff(&server);
    let child = add_child(&mut web, "Meena Synthetic");
    let form = web.get(&format!("{child}/scans?kind=identity"));
    assert_eq!(form.status, 200);
    let action = form
        .body
        .split("action=\"")
        .filter_map(|s| s.split('"').next())
        .find(|a| a.contains("/scans"))
        .unwrap()
        .replace("&amp;", "&");
    assert!(action.contains("csrf="), "{action}");
    let jpeg = std::fs::read(common::scans_dir().join("scan-gps.jpg")).unwrap();
    let r = web.upload(&action, "identity", &[("meena-aadhaar.jpg", jpeg.clone())]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Location and camera data were removed"),
        "{}",
        r.body
    );
    // A PDF with nothing hidden in it is stored as it is, and the page says so.
    let r = web.upload(&action, "fir", &[("fir.pdf", common::pdf(5_000, "plain"))]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("no hidden data to remove"), "{}", r.body);
    // A file that is not a scan is refused, in plain words, and not stored.
    let r = web.upload(
        &action,
        "identity",
        &[("x.html", b"<html><script>1</script>".to_vec())],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("not accepted"), "{}", r.body);
    // Without the token in the action, the upload is refused.
    let bare = action.split('?').next().unwrap().to_string();
    let r = web.upload(&bare, "identity", &[("y.jpg", jpeg.clone())]);
    assert_eq!(r.status, 403);
    let token = server.login("staff", "staff-password-long");
    let id = child.trim_start_matches("/children/");
    let docs = server.get_json(&token, &format!("/api/v1/children/{id}/documents"));
    let docs = docs.as_array().unwrap();
    assert_eq!(
        docs.len(),
        2,
        "only the photo and the PDF were stored: {docs:?}"
    );
    assert!(
        docs[0].get("file_name").is_none_or(|v| v.is_null()),
        "no file name is kept"
    );
    // The page shows the paper; its bytes carry no location.
    let page = web.get(&format!("/documents/{}", docs[0]["id"].as_str().unwrap()));
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("meena-aadhaar"));
    let content = web.get(&format!(
        "/documents/{}/content",
        docs[0]["id"].as_str().unwrap()
    ));
    assert_eq!(content.status, 200);
    assert!(content
        .header("content-disposition")
        .starts_with("inline; filename=\""));
    assert!(content
        .header("content-security-policy")
        .contains("sandbox"));
    assert!(!content.body.as_bytes().windows(4).any(|w| w == b"GPS\0"));
}

/// Starts `serve --demo` on `data`; returns the process and what it
/// printed up to its address.
fn serve_demo(data: &std::path::Path, port: u16) -> (std::process::Child, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_handover"))
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "serve",
            "--demo",
            "--bind",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("HANDOVER_PASSPHRASE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.contains("listening on") || line.starts_with("error");
        lines.push(line);
        if done {
            break;
        }
    }
    (child, lines)
}

#[test]
fn serve_demo_sets_up_one_user_per_role_and_synthetic_children_only_on_a_new_node() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let port = free_port();
    let (mut process, out) = serve_demo(&data, port);
    let text = out.join("\n");
    assert!(text.contains("DEMO NODE"), "{text}");
    let password = |name: &str| {
        out.iter()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_string()
    };
    for role in [
        "shelter_staff",
        "cwc_member",
        "dcpu_officer",
        "swd_officer",
        "support_person",
        "admin",
    ] {
        assert!(text.contains(role), "a demo user for {role}");
    }
    let mut web = Web::new(&format!("http://127.0.0.1:{port}"));
    let r = web.first_login(
        "demo-staff",
        &password("demo-staff"),
        "demo staff chooses this",
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let list = web.get("/children");
    assert!(list.body.contains("3 children"), "{}", list.body);
    assert_eq!(list.body.matches("(synthetic)").count(), 3);
    assert!(list.body.contains("8 of 8 papers"));
    process.kill().unwrap();
    process.wait().unwrap();
    // Again on the demo node: it serves, and says it is a demo.
    let (mut again, out) = serve_demo(&data, free_port());
    assert!(out.join("\n").contains("DEMO NODE"));
    again.kill().unwrap();
    again.wait().unwrap();
    // A node that is not a demo refuses demo data.
    let (_dir, server, _) = node(&[]);
    drop(server);
    let real = _dir.path().join("node");
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_handover"))
        .args([
            "--data-dir",
            real.to_str().unwrap(),
            "serve",
            "--demo",
            "--bind",
        ])
        .arg(format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("holds data of its own"), "{err}");
}

#[test]
fn logins_through_the_page_are_throttled_like_the_api() {
    let (_dir, server, _) = node(&[]);
    let mut web = Web::new(&server.url(""));
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(web.login("staff", "not the password at all").status);
    }
    assert_eq!(&statuses[..5], &[401, 401, 401, 401, 401], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let page = web.login("staff", "not the password at all");
    assert!(
        page.body.contains("Too many failed attempts"),
        "{}",
        page.body
    );
    // The API counts the same attempts.
    let r = common::server::client()
        .post(server.url("/api/v1/session"))
        .json(&json!({"name": "staff", "password": "staff-password-long"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 429, "the name is throttled for the API too");
}

#[test]
fn the_server_log_keeps_route_templates_never_paths_or_names() {
    let (_dir, server, _) = node(&[]);
    let mut web = staff(&server);
    let child = add_child(&mut web, "Zqlogmarker Synthetic");
    assert_eq!(web.get(&child).status, 200);
    web.post("/children", &[("q", "Zqlogmarker")]);
    let log = std::fs::read_to_string(server.log_path()).unwrap();
    assert!(
        log.contains("route=/children/{id}"),
        "route templates are logged"
    );
    let id = child.trim_start_matches("/children/");
    assert!(
        !log.contains(&format!("/children/{id}")),
        "a path in the log"
    );
    assert!(!log.contains("Zqlogmarker"), "a child's name in the log");
}

#[test]
fn long_lists_come_fifty_a_page_and_the_search_pages_by_post() {
    let (_dir, server, admin) = node(&[]);
    let token = server.login("staff", "staff-password-long");
    for i in 0..53 {
        server.create(
            &token,
            "/api/v1/children",
            json!({"name": format!("Synthetic Paged {i:02}")}),
            201,
        );
    }
    let mut web = staff(&server);
    let first = web.get("/children");
    assert_eq!(first.status, 200);
    let body = unescape(&first.body);
    assert_eq!(body.matches("Synthetic Paged").count(), 50, "{body}");
    assert!(body.contains("Synthetic Paged 49") && !body.contains("Synthetic Paged 50"));
    // The next page is a post of the search text and a child's id: no
    // name in any URL.
    let after = body
        .split("name=\"after\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a next page")
        .to_string();
    assert!(after.parse::<uuid::Uuid>().is_ok(), "{after}");
    let csrf = first.csrf().unwrap();
    let second = web.post(
        "/children",
        &[("csrf", &csrf), ("q", ""), ("after", &after)],
    );
    assert_eq!(second.status, 200);
    let body = unescape(&second.body);
    assert_eq!(body.matches("Synthetic Paged").count(), 3, "{body}");
    assert!(body.contains("First page") && !body.contains("name=\"after\""));
    // A search that fits one page, in either case.
    let found = web.post("/children", &[("csrf", &csrf), ("q", "paged 5")]);
    let body = unescape(&found.body);
    assert_eq!(body.matches("Synthetic Paged").count(), 3, "{body}");
    // A made-up cursor is an absent page, not an error of the server.
    let bad = web.post("/children", &[("csrf", &csrf), ("after", "x")]);
    assert_eq!(bad.status, 422, "{}", bad.body);

    // The admin's users page pages too, by user id.
    for i in 0..51 {
        let r = server.post_json(
            &admin,
            "/api/v1/users",
            json!({"name": format!("reader{i:02}"), "role": "dcpu_officer",
                   "scope": "district:rajasthan/jaipur"}),
        );
        assert_eq!(r.status(), 201);
    }
    let mut web = Web::new(&server.url(""));
    assert_eq!(web.login("admin", ADMIN_PASSWORD).status, 303);
    let users = web.get("/admin/users");
    assert_eq!(users.status, 200);
    let next = users
        .body
        .split("href=\"/admin/users?after=")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a next page of users")
        .to_string();
    let rest = web.get(&format!("/admin/users?after={next}"));
    assert_eq!(rest.status, 200);
    let shown = |html: &str| html.matches("<article class=\"user\">").count();
    assert_eq!(shown(&users.body), 50);
    assert_eq!(shown(&rest.body), 53 - 50, "admin, staff and 51 readers");
}
