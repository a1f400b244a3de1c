//! The whole hand-over done by people through the pages, in a real
//! browser (headless Chromium over WebDriver), at phone size, on two real
//! nodes on loopback: in English, then with a refusal in Hindi, and the
//! session and cross-site cases at desktop size. Every page visited is
//! checked by axe-core (no serious or critical WCAG 2.1 AA violation) and
//! for sideways scrolling, and the main pages are saved as screenshots to
//! `docs/screenshots/`. Synthetic data only.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::browser::{Browser, Driver};
use common::server::{free_port, introduce, Server};
use handover::web::i18n::Tr;
use serde_json::Value;
use tempfile::TempDir;

const SRC: &str = "rj-dcpu-jaipur";
const DST: &str = "br-swd-patna";
const DISTRICT: &str = "rajasthan/jaipur";
const FAST_RETRY: &[(&str, &str)] = &[
    ("HANDOVER_PUSH_RETRY_FIRST_SECS", "1"),
    ("HANDOVER_PUSH_RETRY_MAX_SECS", "2"),
];

/// Two nodes, their cards exchanged, and one user of each role; every
/// user's password is `NAME-password-long`.
struct Pair {
    _tmp: TempDir,
    src: Server,
    dst: Server,
    staff: String,
}

fn pair(env: &[(&str, &str)]) -> Pair {
    let tmp = TempDir::new().unwrap();
    let env: Vec<(&str, &str)> = FAST_RETRY.iter().chain(env).copied().collect();
    let src = Server::start(&tmp.path().join("src"), free_port(), SRC, &env);
    let dst = Server::start(&tmp.path().join("dst"), free_port(), DST, &env);
    let (sa, da) = (src.admin(), dst.admin());
    introduce(&src, &sa, &dst, &da);
    let staff = src.user(&sa, "staff", "shelter_staff", "institution:home-1");
    src.user(&sa, "cwc", "cwc_member", &format!("district:{DISTRICT}"));
    src.user(&sa, "dcpu", "dcpu_officer", &format!("district:{DISTRICT}"));
    dst.user(&da, "swd", "swd_officer", &format!("department:{DST}"));
    dst.user(
        &da,
        "helper",
        "support_person",
        &format!("department:{DST}"),
    );
    Pair {
        _tmp: tmp,
        src,
        dst,
        staff,
    }
}

fn gps_jpeg() -> PathBuf {
    common::scans_dir().join("scan-gps.jpg")
}

/// Runs blocking test code (the API client) inside the browser's runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Every page is accessible and fits a phone's width.
async fn check_page(b: &Browser, what: &str) {
    let found = b.axe().await;
    assert!(found.is_empty(), "{what}: axe-core found {found:#?}");
    assert!(!b.scrolls_sideways().await, "{what} scrolls sideways");
    let small = b
        .script(
            "return [...document.querySelectorAll('a, button, select, textarea, input:not([type=hidden]):not([type=radio]):not([type=checkbox])')]
               .filter(e => e.offsetParent !== null && !e.classList.contains('skip'))
               .filter(e => { const r = e.getBoundingClientRect(); return r.height < 44 || r.width < 44; })
               .map(e => e.outerHTML.slice(0, 80));",
        )
        .await;
    assert_eq!(
        small,
        serde_json::json!([]),
        "{what}: touch targets under 44 px"
    );
    let title = b.title().await;
    assert!(
        !title.contains("Synthetic"),
        "{what}: a name in the title: {title}"
    );
    assert!(
        !b.url().await.contains("Synthetic"),
        "{what}: a name in the URL"
    );
}

async fn login(b: &Browser, server: &Server, name: &str) {
    b.goto(&server.url("/login")).await;
    b.fill("#name", name).await;
    b.fill("#password", &format!("{name}-password-long")).await;
    b.click("form[action='/login'] button").await;
    assert_ne!(b.path().await, "/login", "{name} could not log in");
}

/// Waits until the page at `url`, reloaded, shows `text`.
async fn reload_until(b: &Browser, url: &str, text: &str) {
    for _ in 0..150 {
        b.goto(url).await;
        if b.main_text().await.contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    panic!("{url} never showed {text:?}: {}", b.main_text().await);
}

/// The remaining papers of the restoration checklist, uploaded through
/// the API (the browser uploads the first one itself).
fn upload_rest(p: &Pair, child: &str) {
    for kind in [
        "fir",
        "medical_report",
        "fit_to_travel",
        "release_certificate",
        "cwc_order",
        "social_investigation",
        "care_plan",
    ] {
        let r = p
            .src
            .post(&p.staff, &format!("/api/v1/children/{child}/documents"))
            .header("X-Handover-Kind", kind)
            .body(common::pdf(20_000, &format!("{kind}-marker")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "upload {kind}");
    }
}

/// Staff take a child in, upload the GPS photo from the file input, and
/// see the checklist change; the rest of the papers go through the API.
/// Returns the child's id at the source.
async fn intake(b: &Browser, p: &Pair, name: &str, lang: &str, shots: bool) -> String {
    login(b, &p.src, "staff").await;
    b.goto(&p.src.url("/children/new")).await;
    check_page(b, "intake form").await;
    if shots {
        b.screenshot(&format!("child-new-{lang}")).await;
    }
    b.fill("#name", name).await;
    b.fill("#district", DISTRICT).await;
    b.click("form[action='/children/new'] button").await;
    let path = b.path().await;
    let child = path
        .strip_prefix("/children/")
        .expect("the child's page")
        .to_string();
    let before = b.text(".summary").await;
    assert!(before.contains('0'), "{before}");
    b.click(&format!("a[href='/children/{child}/scans?kind=identity']"))
        .await;
    check_page(b, "upload form").await;
    if shots {
        b.screenshot(&format!("upload-{lang}")).await;
    }
    let input = b.find("#file").await;
    input.send_keys(gps_jpeg().to_str().unwrap()).await.unwrap();
    b.tick("form[data-upload] button").await;
    // The script sends the file as a resumable upload and says, on the
    // file's line, what became of it.
    wait_for_selector(b, ".uploads li.ok").await;
    assert!(
        b.text(".uploads li.ok")
            .await
            .contains(&Tr::new(lang.parse().unwrap()).t("upload-stored-photo")),
        "{}",
        b.text(".uploads").await
    );
    check_page(b, "upload outcome").await;
    if shots {
        b.screenshot(&format!("uploaded-{lang}")).await;
    }
    b.goto(&p.src.url(&format!("/children/{child}"))).await;
    let after = b.text(".summary").await;
    assert_ne!(before, after, "the checklist did not change");
    blocking(|| upload_rest(p, &child));
    b.goto(&p.src.url(&format!("/children/{child}"))).await;
    check_page(b, "child page").await;
    if shots {
        b.screenshot(&format!("child-{lang}")).await;
    }
    child
}

async fn wait_for_selector(b: &Browser, css: &str) {
    for _ in 0..100 {
        if b.exists(css).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{css} never appeared: {}", b.body_text().await);
}

/// Staff draft and submit; the CWC approves with an order number; staff
/// send. Returns the transfer page's URL at the source.
async fn through_the_committee(
    staff: &Browser,
    cwc: &Browser,
    p: &Pair,
    child: &str,
    lang: &str,
    shots: bool,
) -> String {
    staff
        .click(&format!("a[href='/children/{child}/transfers']"))
        .await;
    check_page(staff, "transfer draft form").await;
    staff.tick(&format!("input[value='{DST}']")).await;
    staff
        .click(&format!(
            "form[action='/children/{child}/transfers'] button"
        ))
        .await;
    let transfer = staff.url().await;
    assert!(transfer.contains("/transfers/"), "{transfer}");
    staff.click("form[action$='/submit'] button").await;
    login(cwc, &p.src, "cwc").await;
    assert_eq!(cwc.path().await, "/transfers");
    check_page(cwc, "the committee's list").await;
    if shots {
        cwc.screenshot(&format!("transfers-cwc-{lang}")).await;
    }
    let id = transfer.rsplit('/').next().unwrap().to_string();
    cwc.click(&format!("a[href='/transfers/{id}']")).await;
    check_page(cwc, "the committee's review").await;
    if shots {
        cwc.screenshot(&format!("review-{lang}")).await;
    }
    cwc.fill("#order", "RO-2026-0017").await;
    cwc.click("form[action$='/approve'] button").await;
    assert!(
        cwc.exists(".state-approved").await,
        "{}",
        cwc.main_text().await
    );
    staff.goto(&transfer).await;
    staff.click("form[action$='/send'] button").await;
    assert!(staff.exists(".state-sent").await || staff.exists(".state-delivered").await);
    transfer
}

fn doc_of_kind(server: &Server, token: &str, child: &str, kind: &str) -> Value {
    let docs = server.get_json(token, &format!("/api/v1/children/{child}/documents"));
    docs.as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {docs}"))
        .clone()
}

#[test]
fn the_whole_hand_over_is_done_by_people_through_pages() {
    whole_hand_over("en");
}

#[test]
fn the_whole_hand_over_reads_in_hindi_on_every_page() {
    whole_hand_over("hi");
}

/// Checks a page: accessible, fits a phone, and in Hindi wholly Hindi.
async fn look(b: &Browser, what: &str, lang: &str, english: &[String]) {
    check_page(b, what).await;
    if lang == "hi" {
        check_hindi(b, what, english).await;
    }
}

/// The eight steps of the issue, each by the person whose step it is.
fn whole_hand_over(lang: &str) {
    common::require_exiftool();
    let tr = Tr::new(lang.parse().unwrap());
    let english = english_phrases();
    let p = pair(&[]);
    let driver = Driver::start();
    runtime().block_on(async {
        let staff = driver.open(true, lang).await;
        staff.goto(&p.src.url("/login")).await;
        look(&staff, "login", lang, &english).await;
        staff.screenshot(&format!("login-{lang}")).await;
        // 1. Intake, with the GPS photo from the file input.
        let child = intake(&staff, &p, "Asha Synthetic", lang, true).await;
        look(&staff, "child page", lang, &english).await;
        staff.goto(&p.src.url("/children")).await;
        look(&staff, "children", lang, &english).await;
        let all_papers = tr.args("papers-present", &[("have", "8".into()), ("of", "8".into())]);
        assert!(staff.main_text().await.contains("Asha Synthetic"));
        assert!(staff.main_text().await.contains(&all_papers));
        staff.screenshot(&format!("children-{lang}")).await;
        staff.goto(&p.src.url(&format!("/children/{child}"))).await;
        // 2-3. Draft, submit, approve, send.
        let cwc = driver.open(true, lang).await;
        let transfer = through_the_committee(&staff, &cwc, &p, &child, lang, true).await;
        look(&cwc, "the committee's review", lang, &english).await;
        look(&staff, "transfer page", lang, &english).await;
        // 4. The push arrives; the SWD officer accepts it.
        let swd = driver.open(true, lang).await;
        login(&swd, &p.dst, "swd").await;
        reload_until(&swd, &p.dst.url("/inbox"), &tr.t("inbox-signature-verified")).await;
        look(&swd, "inbox", lang, &english).await;
        assert!(swd.main_text().await.contains("Test department"));
        swd.screenshot(&format!("inbox-{lang}")).await;
        swd.click("form[action$='/accept'] button").await;
        let b_child = swd.path().await.trim_start_matches("/children/").to_string();
        assert!(swd.main_text().await.contains("Asha Synthetic"));
        look(&swd, "transferred-in child", lang, &english).await;
        // 5. The source shows delivered.
        reload_until(&staff, &transfer, &tr.t("state-delivered")).await;
        look(&staff, "delivered transfer", lang, &english).await;
        staff.screenshot(&format!("transfer-{lang}")).await;
        // 6. The SWD officer grants a support person two kinds.
        swd.click(&format!("a[href='/grants/new?child={b_child}']")).await;
        look(&swd, "grant form", lang, &english).await;
        swd.select("#to", "helper").await;
        swd.tick("input[name='kind'][value='identity']").await;
        swd.tick("input[name='kind'][value='fir']").await;
        swd.select("#purpose", "compensation_claim").await;
        let until = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%d");
        swd.script(&format!("document.querySelector('#until').value = '{until}';")).await;
        swd.screenshot(&format!("grant-new-{lang}")).await;
        swd.click("form[action='/grants'] button").await;
        let ends = [tr.count("grant-ends-in", 29u64), tr.count("grant-ends-in", 30u64)];
        let text = swd.main_text().await;
        assert!(ends.iter().any(|e| text.contains(e.as_str())), "{text}");
        swd.goto(&p.dst.url("/grants")).await;
        look(&swd, "grants given", lang, &english).await;
        // 7. The support person sees exactly those two, and downloads one.
        let helper = driver.open(true, lang).await;
        login(&helper, &p.dst, "helper").await;
        assert_eq!(helper.path().await, "/shared");
        look(&helper, "shared with me", lang, &english).await;
        helper.screenshot(&format!("shared-{lang}")).await;
        let text = helper.main_text().await;
        assert!(text.contains("Asha Synthetic"));
        assert!(text.contains(&tr.t("purpose-compensation_claim")));
        assert!(ends.iter().any(|e| text.contains(e.as_str())), "{text}");
        let grant_link = helper
            .script("return document.querySelector('a.card').getAttribute('href');")
            .await;
        let grant_link = grant_link.as_str().unwrap().to_string();
        helper.goto(&p.dst.url(&grant_link)).await;
        look(&helper, "shared papers", lang, &english).await;
        helper.screenshot(&format!("shared-papers-{lang}")).await;
        let links = helper
            .script("return [...document.querySelectorAll('ul.docs a')].map(a => a.getAttribute('href'));")
            .await;
        assert_eq!(links.as_array().unwrap().len(), 2, "exactly the two kinds: {links}");
        let (swd_token, src_staff) = blocking(|| {
            (
                p.dst.login("swd", "swd-password-long"),
                p.src.login("staff", "staff-password-long"),
            )
        });
        let identity = blocking(|| doc_of_kind(&p.dst, &swd_token, &b_child, "identity"));
        let medical = blocking(|| doc_of_kind(&p.dst, &swd_token, &b_child, "medical_report"));
        let identity_id = identity["id"].as_str().unwrap().to_string();
        helper.goto(&p.dst.url(&format!("/documents/{identity_id}"))).await;
        look(&helper, "a shared paper", lang, &english).await;
        let (status, bytes) = helper
            .fetch_bytes(&format!("/documents/{identity_id}/content?download=1"))
            .await;
        assert_eq!(status, 200);
        let src_identity = blocking(|| doc_of_kind(&p.src, &src_staff, &child, "identity"));
        let stored = blocking(|| {
            p.src
                .get(&src_staff, &format!("/api/v1/documents/{}/content", src_identity["id"].as_str().unwrap()))
                .send()
                .unwrap()
                .bytes()
                .unwrap()
                .to_vec()
        });
        assert_eq!(bytes, stored, "the support person gets the bytes the shelter stored");
        let original = std::fs::read(gps_jpeg()).unwrap();
        assert_ne!(bytes, original, "the upload was cleaned");
        let file = p._tmp.path().join("downloaded.jpg");
        std::fs::write(&file, &bytes).unwrap();
        let gps = std::process::Command::new("exiftool")
            .args(["-gps:all", "-s"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(gps.status.success());
        assert!(String::from_utf8_lossy(&gps.stdout).trim().is_empty(), "GPS left: {gps:?}");
        // Another kind reads as not found.
        helper.goto(&p.dst.url(&format!("/documents/{}", medical["id"].as_str().unwrap()))).await;
        assert!(helper.main_text().await.contains(&tr.t("error-not-found")));
        look(&helper, "a paper outside the grant", lang, &english).await;
        let (status, _) = helper
            .fetch_bytes(&format!("/documents/{}/content", medical["id"].as_str().unwrap()))
            .await;
        assert_eq!(status, 404);
        // 8. The grant is revoked; the support person's page says so.
        swd.goto(&p.dst.url(&format!("/children/{b_child}"))).await;
        swd.click("form[action$='/revoke'] button").await;
        helper.goto(&p.dst.url(&grant_link)).await;
        assert!(helper.main_text().await.contains(&tr.t("shared-revoked")));
        look(&helper, "a revoked grant", lang, &english).await;
        let (status, _) = helper
            .fetch_bytes(&format!("/documents/{identity_id}/content"))
            .await;
        assert_eq!(status, 404);
        // The access history, the district overview and the administration.
        swd.goto(&p.dst.url(&format!("/children/{b_child}/access"))).await;
        look(&swd, "access history", lang, &english).await;
        assert!(swd.main_text().await.contains("helper"), "the support person's reads are listed");
        let dcpu = driver.open(true, lang).await;
        login(&dcpu, &p.src, "dcpu").await;
        assert_eq!(dcpu.path().await, "/district");
        look(&dcpu, "district overview", lang, &english).await;
        assert!(dcpu.exists("svg.chart rect.have").await);
        assert!(!dcpu.main_text().await.contains("Asha"), "the overview names no child");
        dcpu.screenshot(&format!("district-{lang}")).await;
        let admin = driver.open(true, lang).await;
        admin.goto(&p.src.url("/login")).await;
        admin.fill("#name", "admin").await;
        admin.fill("#password", common::server::ADMIN_PASSWORD).await;
        admin.click("form[action='/login'] button").await;
        for (path, shot) in [
            ("/admin/users", "users"),
            ("/admin/departments", "departments"),
            ("/admin/status", "status"),
            ("/account", "account"),
        ] {
            admin.goto(&p.src.url(path)).await;
            look(&admin, path, lang, &english).await;
            admin.screenshot(&format!("{shot}-{lang}")).await;
        }
        admin.goto(&p.src.url("/admin/status")).await;
        assert!(admin.main_text().await.contains(&tr.t("status-audit")));
        assert!(!admin.main_text().await.contains(&tr.t("status-audit-broken")));
        for b in [staff, cwc, swd, helper, dcpu, admin] {
            b.client.close().await.unwrap();
        }
    });
}

/// English words of the catalog that must not show on a Hindi page.
fn english_phrases() -> Vec<String> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales/en/main.ftl"),
    )
    .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with(char::is_whitespace))
        .filter_map(|l| {
            l.split_once(" = ")
                .map(|(id, v)| (id.to_string(), v.to_string()))
        })
        .filter(|(id, v)| id != "language-en" && !v.contains('{') && v.split(' ').count() >= 2)
        .map(|(_, v)| v)
        .collect()
}

async fn check_hindi(b: &Browser, what: &str, english: &[String]) {
    let text = b.body_text().await;
    assert!(
        text.chars().any(|c| ('\u{0900}'..='\u{097F}').contains(&c)),
        "{what}: no Devanagari"
    );
    for phrase in english {
        assert!(
            !text.contains(phrase.as_str()),
            "{what}: English left: {phrase:?}"
        );
    }
    let ids = handover::web::i18n::catalog_ids(handover::domain::Language::En);
    for word in text.split_whitespace() {
        assert!(
            !ids.iter().any(|id| id == word),
            "{what}: a message id shows: {word}"
        );
    }
    let lang = b.script("return document.documentElement.lang;").await;
    assert_eq!(lang, "hi", "{what}");
}

#[test]
fn a_refusal_reaches_the_senders_page_with_its_reason() {
    let p = pair(&[]);
    let driver = Driver::start();
    let tr = Tr::new(handover::domain::Language::En);
    runtime().block_on(async {
        let staff = driver.open(true, "en").await;
        let child = intake(&staff, &p, "Sunita Synthetic", "en", false).await;
        let cwc = driver.open(true, "en").await;
        let transfer = through_the_committee(&staff, &cwc, &p, &child, "en", false).await;
        let swd = driver.open(true, "en").await;
        login(&swd, &p.dst, "swd").await;
        reload_until(
            &swd,
            &p.dst.url("/inbox"),
            &tr.t("inbox-signature-verified"),
        )
        .await;
        swd.fill(
            "textarea[name='reason']",
            "The medical report cannot be read",
        )
        .await;
        swd.click("form[action$='/refuse'] button").await;
        assert_eq!(swd.path().await, "/inbox");
        assert!(swd.main_text().await.contains(&tr.t("inbox-state-refused")));
        check_page(&swd, "inbox after a refusal").await;
        reload_until(&staff, &transfer, &tr.t("state-refused")).await;
        let text = staff.main_text().await;
        assert!(
            text.contains("The medical report cannot be read"),
            "the reason shows: {text}"
        );
        check_page(&staff, "refused transfer").await;
        staff.screenshot("transfer-refused-en").await;
        // Nothing was imported at the destination.
        let token = blocking(|| p.dst.login("swd", "swd-password-long"));
        let children = blocking(|| p.dst.get_json(&token, "/api/v1/children"));
        assert_eq!(children.as_array().unwrap().len(), 0);
        for b in [staff, cwc, swd] {
            b.client.close().await.unwrap();
        }
    });
}

#[test]
fn sessions_end_and_other_sites_cannot_post() {
    let p = pair(&[("HANDOVER_SESSION_IDLE_SECS", "3")]);
    let driver = Driver::start();
    runtime().block_on(async {
        let b = driver.open(false, "en").await;
        login(&b, &p.src, "staff").await;
        b.goto(&p.src.url("/children/new")).await;
        b.fill("#name", "Kiran Synthetic").await;
        b.click("form[action='/children/new'] button").await;
        let child_page = b.url().await;
        assert!(b.main_text().await.contains("Kiran Synthetic"));
        // After the idle limit, the next click goes to the login page.
        tokio::time::sleep(Duration::from_secs(4)).await;
        b.click("nav a[href='/children']").await;
        assert_eq!(b.path().await, "/login");
        assert!(b.main_text().await.contains("Your session ended"));
        // After logout, going back shows nothing personal.
        login(&b, &p.src, "staff").await;
        b.goto(&child_page).await;
        assert!(b.main_text().await.contains("Kiran Synthetic"));
        b.click("form[action='/logout'] button").await;
        assert_eq!(b.path().await, "/login");
        b.client.back().await.unwrap();
        let text = b.body_text().await;
        assert!(!text.contains("Kiran"), "the back button showed the child: {text}");
        login(&b, &p.src, "staff").await;
        // Names that look like markup show as text, and run nothing.
        for name in ["<script>window.__x = 1</script>", "\"><img src=x onerror=\"window.__x = 2\">"] {
            b.goto(&p.src.url("/children/new")).await;
            b.fill("#name", name).await;
            b.click("form[action='/children/new'] button").await;
            assert_eq!(b.text("h1").await, name, "the name shows as text");
            assert!(!b.exists("main h1 img").await && !b.exists("main h1 script").await);
            let ran = b.script("return window.__x === undefined;").await;
            assert_eq!(ran, true, "the name ran as script");
            assert!(!b.title().await.contains(name));
            check_page(&b, "a child with a hostile name").await;
        }
        // A form on another site that posts here is refused.
        let target = p.src.url("/children/new");
        let html = format!(
            "<form method=post action='{target}'><input name=name value='Forged Synthetic'><input name=csrf value=x><button id=go>go</button></form>"
        );
        b.goto(&format!("data:text/html,{}", urlencode(&html))).await;
        b.click("#go").await;
        let text = b.body_text().await;
        assert!(text.contains("did not come from this site"), "{text}");
        b.goto(&p.src.url("/children")).await;
        assert!(!b.main_text().await.contains("Forged"), "the forged post added a child");
        b.client.close().await.unwrap();
    });
    let names: Vec<String> = blocking_names(&p);
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"Kiran Synthetic".to_string()));
    assert!(!names.iter().any(|n| n.contains("Forged")));
}

fn blocking_names(p: &Pair) -> Vec<String> {
    let token = p.src.login("staff", "staff-password-long");
    let list = p.src.get_json(&token, "/api/v1/children");
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["name"]
                .as_str()
                .unwrap_or_else(|| c["record"]["name"].as_str().unwrap())
                .to_string()
        })
        .collect()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The upload page over a slow link: paused, the page left and opened
/// again, the same file chosen again goes on where it stopped; the link
/// cut mid-way, the page says when it tries again and finishes on its own.
/// Browser storage holds only the upload's address, and not after.
#[test]
fn an_upload_survives_a_pause_a_closed_page_and_a_cut_link() {
    use common::tus::{marked_pdf, CuttingProxy};
    use std::sync::atomic::Ordering;
    let tmp = TempDir::new().unwrap();
    let server = Server::start(&tmp.path().join("node"), free_port(), SRC, &[]);
    let admin = server.admin();
    let staff = server.user(&admin, "staff", "shelter_staff", "institution:home-1");
    let proxy = CuttingProxy::with_rate(server.port, u64::MAX, Some(1_500_000));
    let base = format!("http://127.0.0.1:{}", proxy.port);
    let bytes = marked_pdf(6 * 1024 * 1024, "BROWSER-UPLOAD");
    let scan = tmp.path().join("scan.pdf");
    std::fs::write(&scan, &bytes).unwrap();
    let driver = Driver::start();
    let child = runtime().block_on(async {
        let b = driver.open(true, "en").await;
        b.goto(&format!("{base}/login")).await;
        b.fill("#name", "staff").await;
        b.fill("#password", "staff-password-long").await;
        b.click("form[action='/login'] button").await;
        b.goto(&format!("{base}/children/new")).await;
        b.fill("#name", "Asha Synthetic").await;
        b.fill("#district", DISTRICT).await;
        b.click("form[action='/children/new'] button").await;
        let child = b
            .path()
            .await
            .strip_prefix("/children/")
            .unwrap()
            .to_string();
        let form = format!("{base}/children/{child}/scans?kind=medical_report");
        let progress = || async {
            b.script(
                "const p = document.querySelector('.uploads progress'); return p ? p.value : 0;",
            )
            .await
            .as_f64()
            .unwrap()
        };
        let until = |percent: f64| async move {
            for _ in 0..300 {
                if progress().await >= percent {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the upload never reached {percent} %");
        };
        let stored = || async {
            b.script("return Object.keys(localStorage).map(k => [k, localStorage.getItem(k)]);")
                .await
        };

        // Paused at a quarter, and the page left.
        b.goto(&form).await;
        b.find("#file")
            .await
            .send_keys(scan.to_str().unwrap())
            .await
            .unwrap();
        b.tick("form[data-upload] button[type=submit]").await;
        until(25.0).await;
        b.tick(".uploads li button").await;
        assert!(b.text(".uploads").await.contains("Paused"));
        let kept = stored().await;
        let kept = kept.as_array().unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        let (key, value) = (kept[0][0].as_str().unwrap(), kept[0][1].as_str().unwrap());
        assert!(
            key.starts_with(&format!("handover-upload:{child}:medical_report:")),
            "{key}"
        );
        assert!(value.starts_with("/api/v1/uploads/"), "{value}");
        assert!(!key.contains("Asha") && !key.contains("scan"), "{key}");
        b.goto("about:blank").await;

        // Opened again: it says an upload is unfinished; the same file goes on.
        b.goto(&form).await;
        assert!(b
            .text("#unfinished")
            .await
            .contains("One upload was not finished"));
        check_page(&b, "upload form with an unfinished upload").await;
        let before = proxy.sent.load(Ordering::SeqCst);
        b.find("#file")
            .await
            .send_keys(scan.to_str().unwrap())
            .await
            .unwrap();
        b.tick("form[data-upload] button[type=submit]").await;
        until(50.0).await;

        // The link goes down mid-way: the page says when it tries again.
        proxy.up.store(false, Ordering::SeqCst);
        wait_for_text(&b, ".uploads", "The connection dropped. The next try is at").await;
        check_page(&b, "upload waiting to retry").await;
        b.screenshot("upload-retry-en").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        proxy.up.store(true, Ordering::SeqCst);
        wait_for_selector(&b, ".uploads li.ok").await;
        b.screenshot("upload-resumed-en").await;
        let sent = proxy.sent.load(Ordering::SeqCst) - before;
        assert!(
            (sent as f64) < 0.95 * bytes.len() as f64,
            "the second choice sent {sent} bytes: it started again from zero"
        );
        assert_eq!(
            stored().await,
            serde_json::json!([]),
            "browser storage after success"
        );
        b.goto(&format!("{base}/children/{child}")).await;
        assert!(
            b.main_text().await.contains("Medical report"),
            "{}",
            b.main_text().await
        );
        b.client.close().await.unwrap();
        child
    });
    let total = proxy.sent.load(Ordering::SeqCst);
    assert!(
        (total as f64) < 1.5 * bytes.len() as f64,
        "{total} bytes sent in all"
    );
    let docs = server.get_json(&staff, &format!("/api/v1/children/{child}/documents"));
    assert_eq!(docs.as_array().unwrap().len(), 1, "{docs}");
    let id = docs[0]["id"].as_str().unwrap();
    let got = server
        .get(&staff, &format!("/api/v1/documents/{id}/content"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(got.as_ref(), bytes.as_slice());
}

async fn wait_for_text(b: &Browser, css: &str, text: &str) {
    for _ in 0..150 {
        if b.exists(css).await && b.text(css).await.contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{css} never said {text:?}: {}", b.body_text().await);
}
