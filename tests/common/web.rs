//! A plain HTTP client for the web pages, as a browser without JavaScript
//! would use them: it keeps the cookies it is given, sends `Origin` with
//! its posts, and takes each form's token from the page it last read.
//! Synthetic data only.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::blocking::{multipart, Client};
use reqwest::header::{HeaderMap, COOKIE, ORIGIN, SET_COOKIE};

/// One answer.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    pub fn location(&self) -> String {
        self.header("location")
    }

    /// The `<title>`.
    pub fn title(&self) -> String {
        let start = self.body.find("<title>").map(|i| i + 7).unwrap_or(0);
        let end = self.body.find("</title>").unwrap_or(start);
        self.body[start..end].to_string()
    }

    /// The form token of the page's first form.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")? + 19;
        let rest = &self.body[at..];
        Some(rest[..rest.find('"')?].to_string())
    }
}

/// A browser-like client of one node.
pub struct Web {
    pub base: String,
    pub cookies: BTreeMap<String, String>,
    client: Client,
    /// The token of the last page read that had a form.
    pub csrf: String,
}

impl Web {
    pub fn new(base: &str) -> Web {
        Web {
            base: base.trim_end_matches('/').to_string(),
            cookies: BTreeMap::new(),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, r: reqwest::blocking::Response) -> Page {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        for c in headers.get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let body = r.text().unwrap();
        let page = Page {
            status,
            headers,
            body,
        };
        if let Some(t) = page.csrf() {
            self.csrf = t;
        }
        page
    }

    pub fn get(&mut self, path: &str) -> Page {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .unwrap();
        self.take(r)
    }

    /// Posts a form from our own origin, with the current form token.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone();
        self.post_as(path, fields, Some(&csrf), Some(&self.base.clone()))
    }

    /// Posts a form with the token and `Origin` given (none: left out).
    pub fn post_as(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        csrf: Option<&str>,
        origin: Option<&str>,
    ) -> Page {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if let Some(t) = csrf {
            all.push(("csrf", t));
        }
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(&all);
        if let Some(o) = origin {
            req = req.header(ORIGIN, o);
        }
        let r = req.send().unwrap();
        self.take(r)
    }

    /// Posts a multipart form (an upload) to `action` as the page gave it.
    pub fn upload(&mut self, action: &str, kind: &str, files: &[(&str, Vec<u8>)]) -> Page {
        let mut form = multipart::Form::new().text("kind", kind.to_string());
        for (name, bytes) in files {
            form = form.part(
                "file",
                multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
            );
        }
        let r = self
            .client
            .post(format!("{}{action}", self.base))
            .header(COOKIE, self.cookie_header())
            .header(ORIGIN, self.base.clone())
            .multipart(form)
            .send()
            .unwrap();
        self.take(r)
    }

    /// Logs in with the form; returns the answer to the post.
    pub fn login(&mut self, name: &str, password: &str) -> Page {
        self.get("/login");
        self.post("/login", &[("name", name), ("password", password)])
    }

    /// Logs in with a one-time password, choosing `new` on the way.
    pub fn first_login(&mut self, name: &str, one_time: &str, new: &str) -> Page {
        self.get("/login");
        self.post(
            "/login",
            &[
                ("name", name),
                ("password", one_time),
                ("new_password", new),
                ("new_password_again", new),
            ],
        )
    }
}
