//! Page weight: for each main page of each role, the bytes of its HTML,
//! CSS and JavaScript, uncompressed and as the server sends them gzipped
//! (`Accept-Encoding: gzip`). The target is 60 KB uncompressed for any
//! page, documents aside. Runs a real `handover serve --demo`; figures go
//! in docs/PERFORMANCE.md.
//!
//! `cargo bench --profile dev --bench page_weight`
//! (`HANDOVER_BIN` picks another binary.)

#[allow(dead_code)]
mod common;

use std::collections::BTreeMap;

use reqwest::blocking::Client;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, COOKIE, ORIGIN, SET_COOKIE};

const TARGET: usize = 60 * 1024;

struct Browserless {
    client: Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browserless {
    fn cookie(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// GET `path`: the body, and its length as sent with gzip.
    fn get(&mut self, path: &str) -> (String, usize) {
        let url = format!("{}{path}", self.base);
        let plain = self
            .client
            .get(&url)
            .header(COOKIE, self.cookie())
            .send()
            .unwrap();
        for c in plain.headers().get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
        assert!(
            plain.status().is_success(),
            "GET {path}: {}",
            plain.status()
        );
        let body = plain.text().unwrap();
        let gz = self
            .client
            .get(&url)
            .header(COOKIE, self.cookie())
            .header(ACCEPT_ENCODING, "gzip")
            .send()
            .unwrap();
        let gzipped = gz.headers().get(CONTENT_ENCODING).is_some();
        let sent = gz.bytes().unwrap().len();
        (body, if gzipped { sent } else { body_len_marker(sent) })
    }

    fn login(&mut self, name: &str, one_time: &str) {
        let (page, _) = self.get("/login");
        let csrf = token(&page);
        let new = format!("{name} chooses a new passphrase");
        let r = self
            .client
            .post(format!("{}/login", self.base))
            .header(COOKIE, self.cookie())
            .header(ORIGIN, self.base.clone())
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", name),
                ("password", one_time),
                ("new_password", &new),
                ("new_password_again", &new),
            ])
            .send()
            .unwrap();
        assert_eq!(r.status(), 303, "login of {name}");
        for c in r.headers().get_all(SET_COOKIE) {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.insert(k.into(), v.into());
        }
    }
}

/// A body that was not compressed (too small to be worth it) counts as sent.
fn body_len_marker(n: usize) -> usize {
    n
}

fn token(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    page[at..].split('"').next().unwrap().to_string()
}

/// Attribute values `attr="…"` of the page that start with `prefix`.
fn links(page: &str, attr: &str, prefix: &str) -> Vec<String> {
    page.split(&format!("{attr}=\""))
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|s| s.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

fn main() {
    let bin = std::env::var("HANDOVER_BIN")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/debug/handover").into());
    let dir = tempfile::tempdir().unwrap();
    let (mut started, printed) =
        common::start_with(&bin, &dir.path().join("node"), &[], &["--demo"]);
    let password = |name: &str| {
        printed
            .iter()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or_else(|| panic!("{name} not printed"))
            .to_string()
    };
    let base = format!("http://127.0.0.1:{}", started.port);
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut assets: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut rows = Vec::new();
    let roles: [(&str, &[&str]); 6] = [
        (
            "demo-staff",
            &[
                "/children",
                "/children/new",
                "CHILD",
                "CHILD/scans",
                "DOC",
                "/transfers",
                "/account",
            ],
        ),
        ("demo-cwc", &["/transfers", "/children"]),
        ("demo-dcpu", &["/district"]),
        ("demo-swd", &["/inbox", "/grants"]),
        ("demo-support", &["/shared"]),
        (
            "demo-admin",
            &["/admin/users", "/admin/departments", "/admin/status"],
        ),
    ];
    let mut anonymous = Browserless {
        client: client.clone(),
        base: base.clone(),
        cookies: BTreeMap::new(),
    };
    let mut measure = |b: &mut Browserless, label: String, path: &str| {
        let (html, html_gz) = b.get(path);
        let mut css = (0, 0);
        let mut js = (0, 0);
        for link in links(&html, "href", "/assets/")
            .into_iter()
            .chain(links(&html, "src", "/assets/"))
        {
            let sizes = *assets.entry(link.clone()).or_insert_with(|| {
                let (body, gz) = b.get(&link);
                (body.len(), gz)
            });
            if link.ends_with(".css") {
                css = (css.0 + sizes.0, css.1 + sizes.1);
            } else if link.ends_with(".js") {
                js = (js.0 + sizes.0, js.1 + sizes.1);
            }
        }
        rows.push((label, html.len(), html_gz, css, js));
    };
    measure(&mut anonymous, "login (anyone)".into(), "/login");
    for (user, pages) in roles {
        let mut b = Browserless {
            client: client.clone(),
            base: base.clone(),
            cookies: BTreeMap::new(),
        };
        b.login(user, &password(user));
        let mut child = String::new();
        let mut doc = String::new();
        for page in pages {
            let path = match *page {
                "CHILD" => child.clone(),
                "CHILD/scans" => format!("{child}/scans"),
                "DOC" => doc.clone(),
                p => p.to_string(),
            };
            if path == "/children" && child.is_empty() {
                let (list, _) = b.get("/children");
                child = links(&list, "href", "/children/0")
                    .into_iter()
                    .next()
                    .unwrap_or_default();
            }
            if path.starts_with("/children/0") && doc.is_empty() {
                let (page, _) = b.get(&child);
                doc = links(&page, "href", "/documents/")
                    .into_iter()
                    .next()
                    .unwrap_or_default();
            }
            let label = format!(
                "{} ({})",
                page.replace("CHILD", "/children/{id}")
                    .replace("DOC", "/documents/{id}"),
                user.trim_start_matches("demo-")
            );
            measure(&mut b, label, &path);
        }
    }
    println!("| page | HTML | CSS | JS | total | gzipped (sent) | under 60 KB |");
    println!("|---|---|---|---|---|---|---|");
    let mut worst = 0;
    for (label, html, html_gz, css, js) in &rows {
        let total = html + css.0 + js.0;
        let sent = html_gz + css.1 + js.1;
        worst = worst.max(total);
        println!(
            "| {label} | {html} | {} | {} | {total} | {sent} | {} |",
            css.0,
            js.0,
            if total <= TARGET { "yes" } else { "no" }
        );
    }
    println!("\nlargest page: {worst} bytes uncompressed (target {TARGET})");
    started.process.kill().unwrap();
    let _ = started.process.wait();
}
