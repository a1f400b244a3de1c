//! The pages' words: both catalogs hold the same message ids, every id the
//! pages use exists, the Hindi catalog is in Devanagari, and no template
//! holds user-facing text of its own (every visible word comes from the
//! catalogs).

use std::collections::BTreeSet;
use std::path::Path;

use handover::domain::{
    DocKind, InboxState, Language, OversightKind, Purpose, Role, TransferState,
};
use handover::web::i18n::catalog_ids;

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn files(dir: &str, ext: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(repo(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// `id = value` entries of a catalog, continuation lines joined.
fn entries(lang: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo(&format!("locales/{lang}/main.ftl"))).unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if line.starts_with(char::is_whitespace) || line.starts_with('}') {
            out.last_mut().expect("a continuation follows an entry").1 += line;
        } else {
            let (id, value) = line.split_once(" = ").expect("id = value");
            out.push((id.to_string(), value.to_string()));
        }
    }
    out
}

#[test]
fn both_catalogs_have_the_same_ids() {
    let en: BTreeSet<String> = catalog_ids(Language::En).into_iter().collect();
    let hi: BTreeSet<String> = catalog_ids(Language::Hi).into_iter().collect();
    assert!(en.len() > 200, "the English catalog looks empty");
    let only_en: Vec<_> = en.difference(&hi).collect();
    let only_hi: Vec<_> = hi.difference(&en).collect();
    assert!(only_en.is_empty(), "missing in Hindi: {only_en:?}");
    assert!(only_hi.is_empty(), "missing in English: {only_hi:?}");
    let ids: Vec<String> = entries("en").into_iter().map(|e| e.0).collect();
    assert_eq!(ids.len(), en.len(), "an id is defined twice");
}

#[test]
fn the_hindi_catalog_is_written_in_devanagari() {
    let devanagari = |s: &str| s.chars().any(|c| ('\u{0900}'..='\u{097F}').contains(&c));
    let en = entries("en");
    for (id, value) in entries("hi") {
        // The language choice shows each language in its own script.
        if id == "language-en" || id == "language-hi" {
            continue;
        }
        assert!(devanagari(&value), "{id} is not in Devanagari: {value}");
        let english = &en.iter().find(|e| e.0 == id).unwrap().1;
        assert_ne!(&value, english, "{id} is not translated");
    }
}

/// Message ids named literally in templates and in the pages' code.
fn used_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for (_, text) in files("templates", "html")
        .into_iter()
        .chain(files("src/web", "rs"))
    {
        for id in ids_in_calls(&text) {
            ids.insert(id);
        }
        // Ids handed around as values (`message: "upload-empty"`, `label: "nav-children"`).
        for id in quoted_ids(&text) {
            ids.insert(id);
        }
    }
    ids
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The quoted first arguments of the calls that take a message id:
/// `t("id")`, `arg("id", …)`, `count("id", …)` and the like.
fn ids_in_calls(text: &str) -> Vec<String> {
    {
        let mut out = Vec::new();
        for call in [
            "t(",
            "arg(",
            "args(",
            "count(",
            "bad_form(",
            "titled(",
            "error_page(",
        ] {
            let mut rest = text;
            while let Some(i) = rest.find(call) {
                let before = rest[..i].chars().last();
                rest = &rest[i + call.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let after = rest.trim_start();
                if let Some(q) = after.strip_prefix('"') {
                    if let Some(end) = q.find('"') {
                        let id = &q[..end];
                        if is_id(id) {
                            out.push(id.to_string());
                        }
                    }
                }
            }
        }
        out
    }
}

/// Quoted strings shaped like message ids of the catalogs' families.
fn quoted_ids(text: &str) -> Vec<String> {
    const FAMILIES: [&str; 12] = [
        "error-",
        "upload-",
        "weak-",
        "nav-",
        "login-",
        "password-",
        "form-",
        "transfer-",
        "grant-",
        "field-",
        "shared-",
        "status-",
    ];
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| FAMILIES.iter().any(|f| s.starts_with(f)))
        .filter(|s| is_id(s))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_message_the_pages_use_exists() {
    let en: BTreeSet<String> = catalog_ids(Language::En).into_iter().collect();
    let mut wanted = used_ids();
    assert!(wanted.len() > 150, "found too few ids: the scan is broken");
    // Ids the pages build from domain values.
    for k in DocKind::ALL {
        wanted.insert(format!("kind-{k}"));
    }
    for r in Role::ALL {
        wanted.insert(format!("role-{}", r.as_str()));
    }
    for p in Purpose::ALL {
        wanted.insert(format!("purpose-{}", p.as_str()));
    }
    for s in TransferState::ALL {
        wanted.insert(format!("state-{s}"));
    }
    for s in [
        "draft",
        "submit",
        "override",
        "approve",
        "reject",
        "send",
        "deliver",
        "deliver_partially",
        "refuse",
        "fail",
        "revoke",
    ] {
        wanted.insert(format!("step-{s}"));
    }
    for s in [
        InboxState::Waiting,
        InboxState::Accepted,
        InboxState::Refused,
    ] {
        wanted.insert(format!("inbox-state-{}", s.as_str()));
    }
    for s in ["female", "male", "transgender", "unknown"] {
        wanted.insert(format!("sex-{s}"));
    }
    for s in ["active", "expired", "revoked"] {
        wanted.insert(format!("token-{s}"));
    }
    for k in OversightKind::ALL {
        wanted.insert(format!("oversight-{}", k.as_str()));
    }
    for l in Language::ALL {
        wanted.insert(format!("language-{}", l.code()));
    }
    for f in [
        "name",
        "date_of_birth",
        "rescue_date",
        "estimated_age",
        "institution",
        "district",
        "record",
        "notes",
        "title",
    ] {
        wanted.insert(format!("field-{f}"));
    }
    let missing: Vec<_> = wanted.difference(&en).collect();
    assert!(
        missing.is_empty(),
        "used but not in the catalogs: {missing:?}"
    );
}

/// The visible text of a template: what is left once tags, template
/// code and comments are taken out.
fn literal_text(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    let mut text = String::new();
    while !rest.is_empty() {
        let next = ["{{", "{%", "{#", "<"]
            .iter()
            .filter_map(|m| rest.find(m).map(|i| (i, *m)))
            .min();
        let Some((i, marker)) = next else {
            text.push_str(rest);
            break;
        };
        text.push_str(&rest[..i]);
        rest = &rest[i..];
        let close = match marker {
            "{{" => "}}",
            "{%" => "%}",
            "{#" => "#}",
            _ => ">",
        };
        let end = rest.find(close).expect("a closed tag") + close.len();
        let chunk = &rest[..end];
        if marker == "<" {
            // Attributes that people read: their literal parts count too.
            for attr in [
                "alt=\"",
                "title=\"",
                "placeholder=\"",
                "aria-label=\"",
                "value=\"",
            ] {
                if let Some(a) = chunk.find(attr) {
                    let v = &chunk[a + attr.len()..];
                    let v = &v[..v.find('"').unwrap_or(v.len())];
                    if !v.contains("{{") && attr != "value=\"" {
                        out.push(v.to_string());
                    }
                }
            }
            let inline_script = chunk.starts_with("<script") && !chunk.contains(" src=");
            if chunk.starts_with("<style") || inline_script || chunk.contains(" style=") {
                panic!("inline style or script in a template: {chunk}");
            }
        }
        rest = &rest[end..];
        text.push(' ');
    }
    out.extend(
        text.split_whitespace()
            .filter(|w| w.chars().any(char::is_alphabetic))
            .map(str::to_string),
    );
    out
}

#[test]
fn templates_hold_no_text_of_their_own() {
    let templates = files("templates", "html");
    assert!(templates.len() >= 20, "templates not found");
    for (name, text) in &templates {
        let words = literal_text(text);
        assert!(
            words.is_empty(),
            "{name} shows text that is not from the catalogs: {words:?}"
        );
    }
    // The scan finds what it looks for.
    assert_eq!(literal_text("<p>Hello {{ x }}</p>"), vec!["Hello"]);
    assert_eq!(literal_text("<img alt=\"photo\">"), vec!["photo"]);
    assert!(literal_text("<p>{{ c.t(\"x\") }} · 3</p>").is_empty());
}
