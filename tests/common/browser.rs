//! A real browser for the page tests: Debian's Chromium, headless, driven
//! over WebDriver (chromedriver) with fantoccini, at phone size (360×800,
//! mobile emulation) or desktop size. A missing browser fails the test:
//! `.ci/run` installs `chromium` and `chromium-driver`.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use super::server::free_port;

fn find(names: &[&str]) -> Option<PathBuf> {
    names
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| {
            names.iter().find_map(|n| {
                let out = Command::new("which").arg(n).output().ok()?;
                let p = String::from_utf8(out.stdout).ok()?;
                let p = PathBuf::from(p.trim());
                p.is_file().then_some(p)
            })
        })
}

/// The chromedriver process, one per test.
pub struct Driver {
    process: Child,
    port: u16,
    chromium: PathBuf,
}

impl Driver {
    /// Starts chromedriver; panics (the test fails) when Chromium or
    /// chromedriver is not installed.
    pub fn start() -> Driver {
        let chromium = find(&["/usr/bin/chromium", "chromium", "chromium-browser"])
            .expect("Chromium is not installed: apt-get install chromium (see .ci/run)");
        let driver = find(&["/usr/bin/chromedriver", "chromedriver"])
            .expect("chromedriver is not installed: apt-get install chromium-driver (see .ci/run)");
        let port = free_port();
        let process = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            process,
            port,
            chromium,
        }
    }

    /// A new browser window with an empty profile: at phone size
    /// (`phone`), asking for pages in `lang` (`en`, `hi`).
    pub async fn open(&self, phone: bool, lang: &str) -> Browser {
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            format!("--lang={lang}"),
        ];
        if !phone {
            args.push("--window-size=1280,900".into());
        }
        let mut options = json!({
            "binary": self.chromium,
            "args": args,
            "prefs": {"intl.accept_languages": lang},
        });
        if phone {
            options["mobileEmulation"] = json!({
                "deviceMetrics": {"width": 360, "height": 800, "pixelRatio": 2.0, "touch": true},
            });
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session");
        Browser { client }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// One browser window.
pub struct Browser {
    pub client: Client,
}

impl Browser {
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// The path of the current URL.
    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    /// Clicks what `css` finds (a link, a form's button) and waits until
    /// the page it loads has loaded.
    pub async fn click(&self, css: &str) {
        self.script("window.__handover_old_page = true;").await;
        self.tick(css).await;
        // Loading a page replaces the window, and the mark with it.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let state = self
                .client
                .execute(
                    "return [window.__handover_old_page === true, document.readyState];",
                    vec![],
                )
                .await;
            if matches!(state, Ok(v) if v[0] == false && v[1] == "complete") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page after clicking {css} did not load"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks what `css` finds, for what loads no page (a checkbox, a
    /// radio button, a button a script handles).
    pub async fn tick(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// The element `css` finds (the test fails without one).
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css}"))
    }

    /// Picks `value` in the `<select>` at `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.find(css).await.select_by_value(value).await.unwrap();
    }

    /// The visible text of the page's `<main>`.
    pub async fn main_text(&self) -> String {
        self.text("main").await
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// The whole visible text of the page (header and menu included).
    pub async fn body_text(&self) -> String {
        self.text("body").await
    }

    pub async fn title(&self) -> String {
        self.client.title().await.unwrap()
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    pub async fn script(&self, js: &str) -> Value {
        self.client.execute(js, vec![]).await.unwrap()
    }

    /// Saves a PNG of the window to `docs/screenshots/NAME.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Whether the page scrolls sideways (it must not, at phone size).
    pub async fn scrolls_sideways(&self) -> bool {
        self.script("return document.documentElement.scrollWidth > window.innerWidth + 1;")
            .await
            .as_bool()
            .unwrap()
    }

    /// Serious and critical WCAG 2.1 A/AA violations axe-core finds.
    pub async fn axe(&self) -> Vec<String> {
        let js = std::fs::read_to_string(axe_path()).unwrap_or_else(|e| {
            panic!(
                "axe-core is not installed at {} ({e}): npm install --prefix target/axe axe-core (see .ci/run)",
                axe_path().display()
            )
        });
        self.client.execute(&js, vec![]).await.unwrap();
        let found = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                  .then(r => done(r.violations
                      .filter(v => v.impact === 'serious' || v.impact === 'critical')
                      .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
                  .catch(e => done(['axe failed: ' + e]));"#,
                vec![],
            )
            .await
            .unwrap();
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    /// Fetches `path` with the browser's own session; the bytes.
    pub async fn fetch_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let v = self
            .client
            .execute_async(
                r#"const [path, done] = arguments;
                fetch(path, {credentials: 'same-origin'})
                  .then(async r => {
                    const b = new Uint8Array(await r.arrayBuffer());
                    let s = ''; for (const x of b) s += String.fromCharCode(x);
                    done([r.status, btoa(s)]);
                  })
                  .catch(e => done([0, '']));"#,
                vec![json!(path)],
            )
            .await
            .unwrap();
        let status = v[0].as_u64().unwrap() as u16;
        let b64 = v[1].as_str().unwrap();
        use base64ct::Encoding;
        (status, base64ct::Base64::decode_vec(b64).unwrap())
    }
}

/// Where axe-core's script is: `AXE_CORE_JS`, or where `.ci/run` puts it.
pub fn axe_path() -> PathBuf {
    std::env::var_os("AXE_CORE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/axe/node_modules/axe-core/axe.min.js")
        })
}
