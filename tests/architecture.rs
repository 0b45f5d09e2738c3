//! The layering the README draws ("Architecture"), checked on the source itself: the top-level
//! modules of `src/` import each other without a circle, the front doors hold no SQL, and the
//! lower layers import no feature. A back-import fails here with the circle named, so the
//! structure cannot erode one convenient `use` at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where one module first uses another: `file:line`.
type Edges = BTreeMap<String, BTreeMap<String, String>>;

/// Top-level modules (`mod x;` in `lib.rs`) and the names `lib.rs` re-exports from them.
fn top_level(src: &Path) -> (Vec<String>, BTreeMap<String, String>) {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let lib = strip_comments(&lib);
    let mut modules = Vec::new();
    let mut reexports = BTreeMap::new();
    for line in lib.lines() {
        let line = line.trim();
        let rest = line.strip_prefix("pub ").unwrap_or(line);
        if let Some(name) = rest.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
            modules.push(name.trim().to_owned());
        } else if let Some(path) = rest.strip_prefix("use ").and_then(|r| r.strip_suffix(';')) {
            // `pub use config::Settings;` makes `crate::Settings` mean the `config` module.
            let path = path.trim_start_matches("crate::");
            if let Some((module, item)) = path.split_once("::") {
                let item = item.rsplit("::").next().unwrap_or(item);
                let item = item.rsplit(" as ").next().unwrap_or(item).trim();
                reexports.insert(item.to_owned(), module.to_owned());
            }
        }
    }
    (modules, reexports)
}

/// Every `.rs` file of a top-level module, with the module path depth of the file
/// (`src/a.rs` and `src/a/mod.rs` are 1, `src/a/b.rs` is 2).
fn files_of(src: &Path, module: &str) -> Vec<(PathBuf, usize)> {
    let mut out = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.is_file() {
        out.push((single, 1));
    }
    let dir = src.join(module);
    if dir.is_dir() {
        walk(&dir, 1, &mut out);
    }
    out
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, usize)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable source folder")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, depth + 1, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let is_mod = path.file_name().is_some_and(|n| n == "mod.rs");
            out.push((path, if is_mod { depth } else { depth + 1 }));
        }
    }
}

/// The source with comments blanked (newlines kept, so line numbers stay right). String
/// contents are kept: `deserialize_with = "crate::x::f"` is a real dependency.
fn strip_comments(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !ident_char_before(&chars, i)
        {
            // Raw string r#"..."#: copied as is up to its closing quote and hashes.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let body_start = j + 1;
            let rest: String = chars[body_start..].iter().collect();
            let end = rest.find(&close).map_or(chars.len(), |k| {
                body_start + rest[..k].chars().count() + close.len()
            });
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '"' {
            out.push(c);
            i += 1;
            while i < chars.len() {
                let s = chars[i];
                out.push(s);
                i += 1;
                if s == '\\' && i < chars.len() {
                    out.push(chars[i]);
                    i += 1;
                } else if s == '"' {
                    break;
                }
            }
        } else if c == '\'' {
            // A char literal ('x', '\n', '"') is copied whole; a lifetime is just a quote.
            let lit_len = if next == Some('\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|p| p + 3)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(3)
            } else {
                None
            };
            let n = lit_len.unwrap_or(1);
            out.extend(&chars[i..(i + n).min(chars.len())]);
            i += n;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

fn ident_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first segments named by the path that starts at `text` (just after `crate::`): one for
/// `db::Id`, several for `{db, error::AppError}`.
fn first_segments(text: &str) -> Vec<String> {
    let text = text.trim_start();
    if let Some(group) = text.strip_prefix('{') {
        let mut names = Vec::new();
        let mut depth = 0;
        let mut at_item_start = true;
        for (k, ch) in group.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => at_item_start = true,
                c if at_item_start && !c.is_whitespace() => {
                    at_item_start = false;
                    let name = ident_at(&group[k..]);
                    if !name.is_empty() {
                        names.push(name.to_owned());
                    }
                }
                _ => {}
            }
        }
        names
    } else {
        vec![ident_at(text).to_owned()]
    }
}

/// Which other top-level modules each module uses, with the first place it does.
fn import_graph(src: &Path) -> (Vec<String>, Edges) {
    let (modules, reexports) = top_level(src);
    let known: BTreeSet<&str> = modules.iter().map(String::as_str).collect();
    let mut edges = Edges::new();
    for module in &modules {
        for (file, depth) in files_of(src, module) {
            let text = strip_comments(&std::fs::read_to_string(&file).expect("source file"));
            let shown = file
                .strip_prefix(src.parent().unwrap_or(src))
                .unwrap_or(&file)
                .display()
                .to_string();
            for (n, line) in text.lines().enumerate() {
                let mut targets = Vec::new();
                for (k, _) in line.match_indices("crate::") {
                    targets.extend(first_segments(&line[k + "crate::".len()..]));
                }
                // `super::super::x` from `src/a/b.rs` climbs to the crate root.
                let climbs = "super::".repeat(depth);
                for (k, _) in line.match_indices(&climbs) {
                    if k >= "super::".len() && line[..k].ends_with("super::") {
                        continue;
                    }
                    targets.extend(first_segments(&line[k + climbs.len()..]));
                }
                for target in targets {
                    let target = reexports.get(&target).cloned().unwrap_or(target);
                    if &target != module && known.contains(target.as_str()) {
                        edges
                            .entry(module.clone())
                            .or_default()
                            .entry(target)
                            .or_insert_with(|| format!("{shown}:{}", n + 1));
                    }
                }
            }
        }
    }
    (modules, edges)
}

/// Each circle among the modules (one per strongly connected component), as the path that
/// closes it, every step with the place that makes it.
fn circles(modules: &[String], edges: &Edges) -> Vec<String> {
    // Tarjan's algorithm over a graph of at most a few dozen nodes.
    struct State<'a> {
        edges: &'a Edges,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on_stack: BTreeSet<String>,
        next: usize,
        components: Vec<Vec<String>>,
    }
    fn visit(s: &mut State, v: &str) {
        s.index.insert(v.to_owned(), s.next);
        s.low.insert(v.to_owned(), s.next);
        s.next += 1;
        s.stack.push(v.to_owned());
        s.on_stack.insert(v.to_owned());
        let targets: Vec<String> = s
            .edges
            .get(v)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        for w in targets {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let low = s.low[v].min(s.low[&w]);
                s.low.insert(v.to_owned(), low);
            } else if s.on_stack.contains(&w) {
                let low = s.low[v].min(s.index[&w]);
                s.low.insert(v.to_owned(), low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(&w);
                let done = w == v;
                component.push(w);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.components.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        components: Vec::new(),
    };
    for m in modules {
        if !s.index.contains_key(m) {
            visit(&mut s, m);
        }
    }
    s.components
        .iter()
        .map(|component| {
            let members: BTreeSet<&String> = component.iter().collect();
            let start = &component[0];
            // Shortest way back to `start` inside the component (breadth first).
            let mut prev: BTreeMap<String, String> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start.clone()]);
            let mut closing = None;
            while let Some(v) = queue.pop_front() {
                for w in edges.get(&v).into_iter().flat_map(|t| t.keys()) {
                    if !members.contains(w) {
                        continue;
                    }
                    if w == start {
                        closing = Some(v.clone());
                        queue.clear();
                        break;
                    }
                    if !prev.contains_key(w) {
                        prev.insert(w.clone(), v.clone());
                        queue.push_back(w.clone());
                    }
                }
            }
            let mut path = vec![start.clone()];
            let mut at = closing.expect("a component has a cycle through each member");
            let mut back = vec![at.clone()];
            while &at != start {
                at = prev[&at].clone();
                back.push(at.clone());
            }
            back.pop();
            back.reverse();
            path.extend(back);
            path.push(start.clone());
            let steps: Vec<String> = path
                .windows(2)
                .map(|w| format!("  {} -> {} ({})", w[0], w[1], edges[&w[0]][&w[1]]))
                .collect();
            let inside: Vec<String> = component
                .iter()
                .flat_map(|v| {
                    edges
                        .get(v)
                        .into_iter()
                        .flatten()
                        .filter(|(w, _)| members.contains(w))
                        .map(move |(w, at)| format!("    {v} -> {w} ({at})"))
                })
                .collect();
            format!(
                "{}\n{}\n  every import inside the circle ({}):\n{}",
                path.join(" -> "),
                steps.join("\n"),
                component.join(", "),
                inside.join("\n")
            )
        })
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_import_each_other_without_a_circle() {
    let (modules, edges) = import_graph(&src());
    assert!(modules.len() > 5, "lib.rs lists the modules: {modules:?}");
    let found = circles(&modules, &edges);
    assert!(
        found.is_empty(),
        "the top-level modules of src/ import each other in a circle; move the shared piece \
         down a layer (README, \"Architecture\"):\n{}",
        found.join("\n")
    );
}

/// The layers below the features know no feature, and the front doors' helpers know none either.
#[test]
fn lower_layers_import_no_feature() {
    let (_, edges) = import_graph(&src());
    let features = [
        "org",
        "people",
        "programs",
        "signups",
        "attendance",
        "stats",
        "exports",
        "mail",
        "auth",
        "api",
        "web",
        "server",
        "state",
    ];
    let mut wrong = Vec::new();
    for lower in [
        "time", "ics", "sheet", "error", "input", "config", "db", "metrics", "http",
    ] {
        for (target, at) in edges.get(lower).into_iter().flatten() {
            if features.contains(&target.as_str()) {
                wrong.push(format!("{lower} -> {target} ({at})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "lower layers import features:\n{}",
        wrong.join("\n")
    );
}

/// Handlers and pages parse, call a service and render: the SQL stays in the features.
#[test]
fn front_doors_hold_no_sql() {
    let mut wrong = Vec::new();
    for door in ["api", "web", "http", "server"] {
        for (file, _) in files_of(&src(), door) {
            let text = strip_comments(&std::fs::read_to_string(&file).expect("source"));
            for (n, line) in text.lines().enumerate() {
                if line.contains("diesel") || line.contains("db::schema") {
                    wrong.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "front-door files use the database directly:\n{}",
        wrong.join("\n")
    );
}

/// The checker itself finds a back-import: a tiny tree where `db` imports a feature that
/// imports `db`.
#[test]
fn a_back_import_is_reported_as_a_named_circle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("db")).unwrap();
    std::fs::create_dir_all(src.join("signups")).unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "pub mod db;\npub mod signups;\npub mod time;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("time.rs"),
        "// crate::signups in a comment does not count\n",
    )
    .unwrap();
    std::fs::write(src.join("db/mod.rs"), "pub mod pool;\n").unwrap();
    std::fs::write(
        src.join("db/pool.rs"),
        "let url = \"postgres://x\"; // crate::signups\nuse super::super::{signups::service, time};\n",
    )
    .unwrap();
    std::fs::write(src.join("signups/mod.rs"), "use crate::db::Pool;\n").unwrap();
    let (modules, edges) = import_graph(&src);
    assert_eq!(modules, ["db", "signups", "time"]);
    assert!(
        !edges.contains_key("time"),
        "comments are not imports: {edges:?}"
    );
    let found = circles(&modules, &edges);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("db -> signups -> db"), "{}", found[0]);
    assert!(
        found[0].contains("src/db/pool.rs:2"),
        "names the line: {}",
        found[0]
    );

    // Without the back-import the same tree is fine.
    std::fs::write(src.join("db/pool.rs"), "use super::super::time;\n").unwrap();
    let (modules, edges) = import_graph(&src);
    assert!(circles(&modules, &edges).is_empty());
}

/// utoipa names a schema after its type alone: two `ToSchema` types of one name in different
/// modules become one component, and the document then describes one with the other's fields
/// (found by schemathesis: the awards' and the reviews' `Criterion`).
#[test]
fn openapi_schema_names_are_unique() {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut files = Vec::new();
    walk(&src(), 0, &mut files);
    for (file, _) in files {
        let text = std::fs::read_to_string(&file).expect("source");
        let mut derives_schema = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[derive(") {
                derives_schema = line.contains("ToSchema");
                continue;
            }
            if line.starts_with("#[") || line.starts_with("///") {
                continue;
            }
            if derives_schema {
                let rest = line
                    .strip_prefix("pub struct ")
                    .or_else(|| line.strip_prefix("pub enum "));
                if let Some(rest) = rest {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    seen.entry(name)
                        .or_default()
                        .push(file.display().to_string());
                }
            }
            derives_schema = false;
        }
    }
    let twice: Vec<String> = seen
        .iter()
        .filter(|(_, files)| files.len() > 1)
        .map(|(name, files)| format!("{name}: {}", files.join(", ")))
        .collect();
    assert!(
        seen.len() > 50,
        "the scan finds the schemas: {}",
        seen.len()
    );
    assert!(
        twice.is_empty(),
        "schema types share a name (rename one):\n{}",
        twice.join("\n")
    );
}
