//! The module map: which top-level module of `src/` may import which. The
//! map is the `module-map` block of docs/ARCHITECTURE.md, so the document
//! and this test cannot disagree; any `crate::…` (or `super::…` reaching the
//! crate root) to a module the map does not allow fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module → the modules it may import (itself always may).
type Map = BTreeMap<String, BTreeSet<String>>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The map from the fenced ```text module-map block of ARCHITECTURE.md:
/// lines `module -> a, b, c` (or `module -> (nothing)`).
fn map_from(doc: &str) -> Map {
    let start = doc
        .find("```text module-map")
        .expect("docs/ARCHITECTURE.md has a ```text module-map block");
    let body = &doc[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let body = &body[..body.find("```").expect("the block ends")];
    let mut map = Map::new();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (module, allowed) = line
            .split_once("->")
            .unwrap_or_else(|| panic!("not `module -> allowed`: {line}"));
        let allowed = allowed
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty() && *a != "(nothing)")
            .map(String::from)
            .collect();
        map.insert(module.trim().to_string(), allowed);
    }
    map
}

/// The top-level module a file of `src/` belongs to (`None` for the crate
/// root and the binary).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        f => Some(f.trim_end_matches(".rs").to_string()),
    }
}

/// How many `super::` lead from this file to the crate root.
fn depth_to_root(src: &Path, file: &Path) -> usize {
    let rel = file.strip_prefix(src).unwrap();
    let dirs = rel.components().count() - 1;
    let name = rel.file_name().unwrap().to_str().unwrap();
    // `src/a.rs` and `src/a/mod.rs` are module `a` (one level down);
    // `src/a/b.rs` is `a::b` (two levels).
    if name == "mod.rs" {
        dirs
    } else {
        dirs + 1
    }
}

/// Every top-level module named after `crate::` (including grouped
/// `use crate::{a::X, b}` forms), or after enough `super::` to reach the
/// root. Comments are left out.
fn imports(code: &str, to_root: usize) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let root_super = "super::".repeat(to_root);
    for line in code.lines() {
        let line = line.split("//").next().unwrap();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            top_level_names(after, &mut found);
            rest = after;
        }
        if to_root > 0 {
            let mut rest = line;
            while let Some(at) = rest.find(&root_super) {
                let after = &rest[at + root_super.len()..];
                if !after.starts_with("super::") {
                    top_level_names(after, &mut found);
                }
                rest = after;
            }
        }
    }
    found
}

/// `name…` or `{a::…, b, c::{…}}` at the start of `s`: the first segment(s).
fn top_level_names(s: &str, found: &mut BTreeSet<String>) {
    let ident = |s: &str| {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect::<String>()
    };
    if let Some(group) = s.strip_prefix('{') {
        // Split the group at top-level commas.
        let mut depth = 0;
        let mut item_start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if item_start && !c.is_whitespace() => {
                    let name = ident(&group[i..]);
                    if !name.is_empty() && name != "self" {
                        found.insert(name);
                    }
                    item_start = false;
                }
                _ => {}
            }
        }
    } else {
        let name = ident(s);
        if !name.is_empty() {
            found.insert(name);
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every import the map forbids, as `file: module -> imported`.
fn violations(src: &Path, map: &Map) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for file in files {
        let Some(module) = module_of(src, &file) else {
            continue;
        };
        let allowed = map
            .get(&module)
            .unwrap_or_else(|| panic!("module `{module}` is not in the module map"));
        let code = std::fs::read_to_string(&file).unwrap();
        for import in imports(&code, depth_to_root(src, &file)) {
            if import != module && map.contains_key(&import) && !allowed.contains(&import) {
                bad.push(format!(
                    "{}: {module} -> {import}",
                    file.strip_prefix(src).unwrap().display()
                ));
            }
        }
    }
    bad
}

#[test]
fn every_import_is_one_the_module_map_allows() {
    let doc = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let map = map_from(&doc);
    let src = root().join("src");
    // Every module of src/ is in the map, and the map names no module that
    // does not exist.
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if let Some(m) = module_of(&src, &path.join("mod.rs")).filter(|_| path.is_dir()) {
            modules.insert(m);
        } else if let Some(m) = module_of(&src, &path) {
            modules.insert(m);
        }
    }
    assert_eq!(
        modules,
        map.keys().cloned().collect::<BTreeSet<_>>(),
        "the module map and src/ disagree"
    );
    let bad = violations(&src, &map);
    assert!(
        bad.is_empty(),
        "imports the module map forbids:\n{}",
        bad.join("\n")
    );
}

#[test]
fn a_forbidden_import_is_caught() {
    let doc = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let map = map_from(&doc);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    for (path, code) in [
        ("api/mod.rs", "use crate::vault::Vault;\n"),
        // A face reaching past the vault, in each way it could be written.
        (
            "api/handler.rs",
            "use crate::{domain::ChildId, store::Db};\n",
        ),
        (
            "cli/mod.rs",
            "fn f() { super::policy::Policies::load(); }\n",
        ),
        ("cli/doc.rs", "use super::super::crypto::Passphrase;\n"),
        (
            "vault/mod.rs",
            "use crate::store::Db; // crate::api in a comment is fine\n",
        ),
        ("bundle/mod.rs", "use crate::vault::ErrorClass;\n"),
    ] {
        let file = src.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, code).unwrap();
    }
    let bad = violations(src, &map);
    assert_eq!(
        bad,
        [
            "api/handler.rs: api -> store",
            "bundle/mod.rs: bundle -> vault",
            "cli/doc.rs: cli -> crypto",
            "cli/mod.rs: cli -> policy",
        ]
    );
}
