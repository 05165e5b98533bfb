//! The code's structure, checked: the library's module graph has no cycle, and `unsafe`
//! stays in the files named for it, each block with its `// SAFETY:` line.
//!
//! The graph is read from the sources: an edge A → B for every path A names into B
//! (`crate::b::...`, `super::...`, or a child module in a `use`), outside test code. A module
//! declaration (`mod b;`) is ownership, not an edge. `RTAIO_PRINT_GRAPH=1` prints it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files where `unsafe` may appear (relative to the workspace root), by crate.
const UNSAFE_FILES: &[&str] = &[
    "librt-aio/src/ffi/mod.rs",
    "librt-aio/src/aiocb.rs",
    "librt-aio/src/sys/mod.rs",
    "librt-aio/src/sys/elf.rs",
    "librt-aio/src/sys/global.rs",
    "librt-aio/src/sys/arcs.rs",
    "kernel-aio/src/aio.rs",
    "kernel-aio/src/buf.rs",
    "kernel-aio/src/uring.rs",
    "thread-pool/src/sys.rs",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without comments and without test code (`#[cfg(test)]` items; files named
/// `tests.rs`).
fn code(p: &Path) -> String {
    if p.file_name().unwrap() == "tests.rs" {
        return String::new();
    }
    let text = std::fs::read_to_string(p).unwrap();
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            // skip the item: to the end of its braces, or one line for `mod x;`/`fn x() ... ;`
            let mut depth = 0i32;
            let mut opened = false;
            for l in lines.by_ref() {
                let l = strip_comment(l);
                depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                opened |= l.contains('{');
                if (opened && depth <= 0) || (!opened && l.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        out.push_str(strip_comment(line));
        out.push('\n');
    }
    out
}

fn strip_comment(l: &str) -> &str {
    match l.find("//") {
        Some(i) if !l[..i].contains('"') => &l[..i],
        _ => l,
    }
}

/// Module path of a source file ("" is the crate root).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts.join("::")
}

/// The leading `a::b::c` of `s`: lowercase segments (modules; a type or item ends it).
fn ident_path(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    loop {
        let n = rest.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')).unwrap_or(rest.len());
        if n == 0 {
            break;
        }
        out.push(&rest[..n]);
        match rest[n..].strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    out
}

/// Every module path (as segments) a file's code names.
fn references(code: &str, me: &str, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut refs = Vec::new();
    let parent: Vec<&str> = if me.is_empty() { vec![] } else { me.split("::").collect::<Vec<_>>() };
    let mut push = |base: Vec<String>, rest: &str| {
        // `a::{b, c::d}`: one reference per item
        if let Some(open) = rest.find('{') {
            let head: Vec<String> = ident_path(&rest[..open]).iter().map(|s| s.to_string()).collect();
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
            for item in rest[open + 1..close].split(',') {
                let mut p = base.clone();
                p.extend(head.iter().cloned());
                p.extend(ident_path(item).iter().map(|s| s.to_string()));
                refs.push(p);
            }
        } else {
            let mut p = base;
            p.extend(ident_path(rest).iter().map(|s| s.to_string()));
            refs.push(p);
        }
    };
    for (i, _) in code.match_indices("crate::") {
        push(Vec::new(), &code[i + 7..]);
    }
    for (i, _) in code.match_indices("super::") {
        if code[..i].ends_with("::") {
            continue; // the second of `super::super::`, counted with the first
        }
        let mut rest = &code[i..];
        let mut up: Vec<String> = parent.iter().map(|s| s.to_string()).collect();
        while let Some(r) = rest.strip_prefix("super::") {
            up.pop();
            rest = r;
        }
        push(up, rest);
    }
    // a child module named by a relative path anywhere (`kaio::Kaio::new`, `use pool::X`)
    for child in children {
        let pat = format!("{child}::");
        for (i, _) in code.match_indices(&pat) {
            let before = code[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut base: Vec<String> = parent.iter().map(|s| s.to_string()).collect();
            base.push(child.clone());
            push(base, &code[i + pat.len()..]);
        }
    }
    refs
}

#[test]
fn module_graph_is_acyclic_and_unsafe_is_confined() {
    let root = root();
    let src = root.join("librt-aio/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .filter(|f| f.file_name().unwrap() != "tests.rs")
        .map(|f| (module_of(&src, f), f.clone()))
        .collect();
    let sources: BTreeMap<String, String> = modules.iter().map(|(m, f)| (m.clone(), code(f))).collect();
    let edges = graph(&sources);
    if std::env::var_os("RTAIO_PRINT_GRAPH").is_some() {
        for (m, to) in &edges {
            let name = if m.is_empty() { "(crate)" } else { m };
            println!("{name} -> {}", to.iter().cloned().collect::<Vec<_>>().join(", "));
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        panic!("the library's module graph has a cycle: {}", cycle.join(" -> "));
    }

    // unsafe: only in the named files, and every block with its SAFETY line
    let mut all = files;
    rust_files(&root.join("kernel-aio/src"), &mut all);
    rust_files(&root.join("thread-pool/src"), &mut all);
    let mut bad = Vec::new();
    for f in &all {
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        bad.extend(unsafe_findings(&rel, &std::fs::read_to_string(f).unwrap(), &code(f)));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The module graph of sources given as module path → code.
fn graph(sources: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, code) in sources {
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|l| l.trim().trim_start_matches("pub ").strip_prefix("mod "))
            .map(|l| l.trim_end_matches(';').trim().to_string())
            .collect();
        let out = edges.entry(m.clone()).or_default();
        for r in references(code, m, &children) {
            // the longest prefix that is a module
            let target = (0..=r.len()).rev().map(|n| r[..n].join("::")).find(|p| sources.contains_key(p));
            if let Some(t) = target.filter(|t| t != m && !t.is_empty()) {
                out.insert(t);
            }
        }
    }
    edges
}

/// A cycle of the graph, if it has one (depth-first search with colours).
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(2) => return None,
            Some(1) => {
                let i = stack.iter().position(|s| s == m).unwrap();
                let mut c = stack[i..].to_vec();
                c.push(m.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for t in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(t, edges, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    edges.keys().find_map(|m| visit(m, edges, &mut state, &mut Vec::new()))
}

/// What is wrong with one file's `unsafe`: outside the files named for it, or a block without
/// its `// SAFETY:` line just above. `text` is the file, `code` its non-test code.
fn unsafe_findings(rel: &str, text: &str, code: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let uses =
        ["unsafe {", "unsafe fn", "unsafe impl", "unsafe extern", "unsafe trait"].iter().any(|k| code.contains(k));
    if uses && !UNSAFE_FILES.contains(&rel) {
        bad.push(format!("{rel}: unsafe outside the files named for it"));
    }
    let lines: Vec<&str> = text.lines().collect();
    let test_start = lines.iter().position(|l| l.trim() == "#[cfg(test)]").unwrap_or(lines.len());
    for (i, l) in lines.iter().enumerate().take(test_start) {
        let s = strip_comment(l);
        let is_block = s.contains("unsafe {") || s.contains("unsafe impl");
        if is_block && !lines[i.saturating_sub(4)..=i].iter().any(|w| w.contains("SAFETY:")) {
            bad.push(format!("{rel}:{}: unsafe without a // SAFETY: line", i + 1));
        }
    }
    bad
}

#[test]
fn the_checks_find_what_they_look_for() {
    let src = |pairs: &[(&str, &str)]| pairs.iter().map(|(m, c)| (m.to_string(), c.to_string())).collect();
    // a cycle through a parent's re-export
    let g = graph(&src(&[
        ("a", "mod b;\npub use b::X;\n"),
        ("a::b", "use crate::a::Y;\n"),
        ("c", "use crate::a::b::X;\n"),
    ]));
    assert_eq!(g["a"], BTreeSet::from(["a::b".to_string()]));
    assert_eq!(g["c"], BTreeSet::from(["a::b".to_string()]));
    assert!(find_cycle(&g).is_some_and(|c| c.contains(&"a::b".to_string())), "{g:?}");
    // none without it; `super::` resolved; a braced use list
    let g = graph(&src(&[
        ("a", "mod b;\n"),
        ("a::b", "use super::super::c;\n"),
        ("c", "use crate::{d, e::F};\n"),
        ("d", ""),
        ("e", ""),
    ]));
    assert_eq!(g["a::b"], BTreeSet::from(["c".to_string()]));
    assert_eq!(g["c"], BTreeSet::from(["d".to_string(), "e".to_string()]));
    assert!(find_cycle(&g).is_none());
    // unsafe in a file not named for it, and a block without its SAFETY line
    let text = "fn f() {\n    unsafe { g() };\n}\n";
    assert_eq!(unsafe_findings("librt-aio/src/core/x.rs", text, text).len(), 2);
    let ok = "fn f() {\n    // SAFETY: because.\n    unsafe { g() };\n}\n";
    assert!(unsafe_findings("librt-aio/src/sys/mod.rs", ok, ok).is_empty());
}
