//! The layering guard: the crate's top-level modules form the layers that
//! `docs/architecture.md` declares (its table between the `layers:begin`
//! and `layers:end` markers), with no import cycle and no import from a
//! lower layer up to a higher one.
//!
//! An edge `a -> b` is any `crate::b` path (including `use crate::{b, ..}`
//! groups, `super::` paths that climb to the crate root, re-exports and
//! intra-doc links) in a non-test file of module `a`. Test code (files
//! named `*test*`, `tests/` folders, `#[cfg(test)]` items) may reach
//! anywhere. The table is the single source of truth: a new top-level
//! module fails this test until the table places it.

#![allow(clippy::expect_used)] // a test: a missing file or marker fails it, which is the point

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Where each edge was seen: the first file and line of each.
type Edges = BTreeMap<(String, String), Vec<String>>;

#[test]
fn modules_form_the_declared_layers_without_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let layers = declared_layers(&root.join("docs/architecture.md"));
    let src = root.join("src");
    let modules = top_level_modules(&src);
    let edges = edges(&src, &modules);
    let mut problems = Vec::new();

    for m in &modules {
        if !layers.contains_key(m) {
            problems.push(format!(
                "module `{m}` is in no layer of docs/architecture.md's table"
            ));
        }
    }
    for m in layers.keys() {
        if !modules.contains(m) {
            problems.push(format!(
                "docs/architecture.md's table names `{m}`, which is not a module of src/"
            ));
        }
    }
    for ((from, to), seen) in &edges {
        let (Some(&lf), Some(&lt)) = (layers.get(from), layers.get(to)) else {
            continue;
        };
        if lt > lf {
            problems.push(format!(
                "upward import {from} (layer {lf}) -> {to} (layer {lt}): {}",
                seen.join(", ")
            ));
        }
    }
    for cycle in cycles(&modules, &edges) {
        let inside: Vec<String> = edges
            .iter()
            .filter(|((a, b), _)| cycle.contains(a) && cycle.contains(b))
            .map(|((a, b), seen)| format!("    {a} -> {b}: {}", seen.join(", ")))
            .collect();
        problems.push(format!(
            "import cycle among {}:\n{}",
            cycle.iter().cloned().collect::<Vec<_>>().join(" "),
            inside.join("\n")
        ));
    }
    assert!(
        problems.is_empty(),
        "the layering of docs/architecture.md does not hold:\n{}",
        problems.join("\n")
    );
}

/// The guard itself must see what it claims to: an upward edge, a cycle,
/// `use crate::{..}` groups, `super::` to the root, and skipped test code.
#[test]
fn the_guard_sees_edges_and_cycles() {
    let modules: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let mut found = Edges::new();
    scan(
        "a",
        &["a"],
        "x.rs",
        "use crate::{b::{X, Y}, self as z};\n#[cfg(test)]\nmod tests { use crate::c; }\n",
        &modules,
        &mut found,
    );
    scan(
        "b",
        &["b"],
        "b.rs",
        "fn f() { super::a::g() }\n#[cfg(test)]\nuse crate::c;\n",
        &modules,
        &mut found,
    );
    scan(
        "c",
        &["c", "d"],
        "c/d.rs",
        "/// see [`crate::a::Z`]\nfn g() { super::super::b::h() }\n",
        &modules,
        &mut found,
    );
    let pairs: Vec<(&str, &str)> = found
        .keys()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(pairs, [("a", "b"), ("b", "a"), ("c", "a"), ("c", "b")]);
    let cycles = cycles(&modules, &found);
    assert_eq!(cycles.len(), 1);
    assert_eq!(
        cycles[0].iter().cloned().collect::<Vec<_>>(),
        ["a".to_string(), "b".to_string()]
    );
}

/// Module name -> layer number, from the table between the markers: rows
/// `| 3 stages | `authn`, `limit` | ... |`.
fn declared_layers(doc: &Path) -> BTreeMap<String, u32> {
    let text = fs::read_to_string(doc).expect("docs/architecture.md");
    let begin = text
        .find("<!-- layers:begin -->")
        .expect("docs/architecture.md has a layers:begin marker");
    let end = text
        .find("<!-- layers:end -->")
        .expect("docs/architecture.md has a layers:end marker");
    let mut layers = BTreeMap::new();
    for row in text[begin..end].lines() {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // `| n name | modules | ... |` splits into ["", "n name", "modules", ...].
        let Some(n) = cells
            .get(1)
            .and_then(|c| c.split_whitespace().next())
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let names = cells.get(2).copied().unwrap_or("");
        for name in names.split('`').skip(1).step_by(2) {
            let previous = layers.insert(name.to_string(), n);
            assert!(previous.is_none(), "`{name}` is in two layers of the table");
        }
    }
    assert!(!layers.is_empty(), "the layers table has no rows");
    layers
}

fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for entry in fs::read_dir(src).expect("src/") {
        let path = entry.expect("src/ entry").path();
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let is_module = path.is_dir() || path.extension().is_some_and(|e| e == "rs");
        // `src/x_tests.rs` files are `#[cfg(test)]` children of `x`; the
        // library's, the binary's and the build script's roots are no
        // modules.
        let root = ["lib", "main", "build"].contains(&name);
        if is_module && !root && !name.contains("test") {
            modules.insert(name.to_string());
        }
    }
    modules
}

fn edges(src: &Path, modules: &BTreeSet<String>) -> Edges {
    let mut found = Edges::new();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    for file in files {
        let rel = file.strip_prefix(src).expect("under src/");
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let is_test =
            parts.iter().any(|p| p == "tests") || parts.last().is_some_and(|f| f.contains("test"));
        let top = parts[0].trim_end_matches(".rs").to_string();
        if is_test || !modules.contains(&top) {
            continue;
        }
        // The file's module path: src/a/b.rs and src/a/b/mod.rs are a::b.
        let mut path: Vec<&str> = parts.iter().map(|p| p.trim_end_matches(".rs")).collect();
        if path.last() == Some(&"mod") {
            path.pop();
        }
        let text = fs::read_to_string(&file).expect("readable source");
        let shown = format!("src/{}", parts.join("/"));
        scan(&top, &path, &shown, &text, modules, &mut found);
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Records the edges of one file of module `top` whose module path is
/// `path` (`["a", "b"]` for `crate::a::b`).
fn scan(
    top: &str,
    path: &[&str],
    shown: &str,
    text: &str,
    modules: &BTreeSet<String>,
    found: &mut Edges,
) {
    let code = without_test_items(text);
    let mut add = |to: &str, at: usize| {
        if to != top && modules.contains(to) {
            let line = code[..at].matches('\n').count() + 1;
            let seen = found.entry((top.to_string(), to.to_string())).or_default();
            if seen.len() < 4 {
                seen.push(format!("{shown}:{line}"));
            }
        }
    };
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let starts_word = i == 0 || !is_ident(bytes[i - 1]);
        if starts_word && rest.starts_with("crate::") {
            let after = &rest["crate::".len()..];
            for name in first_segments(after) {
                add(name, i);
            }
            i += "crate::".len();
        } else if starts_word && rest.starts_with("super::") {
            // `super::` climbs from the file's module; at the root the
            // next segment is a top-level module.
            let mut depth = path.len();
            let mut after = rest;
            while let Some(r) = after.strip_prefix("super::") {
                depth = depth.saturating_sub(1);
                after = r;
            }
            if depth == 0 {
                for name in first_segments(after) {
                    add(name, i);
                }
            }
            i += rest.len() - after.len();
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
}

/// The first path segments after `crate::`: one name, or each top-level
/// name of a `{..}` group (nested groups skipped).
fn first_segments(after: &str) -> Vec<&str> {
    if let Some(group) = after.strip_prefix('{') {
        let mut names = Vec::new();
        let mut depth = 0;
        let mut start = 0;
        for (k, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    names.push(group[start..k].trim());
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    names.push(group[start..k].trim());
                    start = k + 1;
                }
                _ => {}
            }
        }
        names
            .into_iter()
            .map(|n| {
                let end = n
                    .find(|c: char| !c.is_ascii() || !is_ident(c as u8))
                    .unwrap_or(n.len());
                &n[..end]
            })
            .filter(|n| !n.is_empty())
            .collect()
    } else {
        let end = after
            .find(|c: char| !c.is_ascii() || !is_ident(c as u8))
            .unwrap_or(after.len());
        vec![&after[..end]]
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The text with every `#[cfg(test)]` item blanked: an item ending in `;`
/// (`mod tests;`, a `use`) or a `{..}` block (braces counted; an
/// unbalanced block blanks the rest of the file). Newlines are kept so
/// line numbers stay right.
fn without_test_items(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let semi = item.find(';');
        let brace = item.find('{');
        let end = match (semi, brace) {
            (Some(s), Some(b)) if s < b => s + 1,
            (Some(s), None) => s + 1,
            (_, Some(b)) => {
                let mut depth = 0usize;
                let mut end = item.len();
                for (k, c) in item[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, None) => item.len(),
        };
        out.extend(item[..end].chars().filter(|&c| c == '\n'));
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The strongly connected sets of more than one module (Tarjan).
fn cycles(modules: &BTreeSet<String>, edges: &Edges) -> Vec<BTreeSet<String>> {
    struct Tarjan<'a> {
        next: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<BTreeSet<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.next.get(v).cloned().unwrap_or_default() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut set = BTreeSet::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    set.insert(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if set.len() > 1 {
                    self.found.push(set);
                }
            }
        }
    }
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        next.entry(a.as_str()).or_default().push(b.as_str());
    }
    let mut t = Tarjan {
        next,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for m in modules {
        if !t.index.contains_key(m.as_str()) {
            t.visit(m);
        }
    }
    t.found
}
