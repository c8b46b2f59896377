//! Architecture invariants, checked on the resolved dependency graph that `cargo metadata` reports: what each crate
//! must not know (ARCHITECTURE.md's crate table) is, where a dependency can express it, a rule here. Only normal
//! dependencies count (dev- and build-dependencies are not linked into the crate), and every rule is transitive: a
//! violation prints the shortest offending path, `a → b → c`.
//!
//! A rule that names a workspace crate (`idv-…`) the workspace does not have fails instead of passing silently.
//!
//! The same metadata generates the crate graph in ARCHITECTURE.md (between the `crate-graph` markers); when it
//! is stale, `IDV_BLESS=1 cargo test -p idv --test it architecture` rewrites it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// Workspace crates `idv-flow` may depend on. Empty: the flow, its evidence and the policy stand alone.
const FLOW_MAY_USE: &[&str] = &[];

/// The engines: they measure, and know nothing of merchants, storage, transport or evaluation data.
const ENGINES: &[&str] = &["idv-doc", "idv-liveness", "idv-face", "idv-vision"];

/// HTTP servers and clients, async runtimes, databases, inference and image crates.
const IMPURE: &[&str] = &[
    "axum",
    "hyper",
    "http",
    "tower",
    "tokio",
    "async-std",
    "sqlx",
    "rusqlite",
    "reqwest",
    "ort",
    "image",
    "imageproc",
    "fast_image_resize",
    "ndarray",
];

const BEGIN: &str = "<!-- crate-graph:begin -->";
const END: &str = "<!-- crate-graph:end -->";

#[test]
fn flow_is_pure() {
    let g = graph();
    let mut forbidden: Vec<&str> = IMPURE.to_vec();
    forbidden.extend(g.members.keys().map(String::as_str).filter(|m| *m != "idv-flow" && !FLOW_MAY_USE.contains(m)));
    g.check("idv-flow is pure", &["idv-flow"], &forbidden);
}

#[test]
fn engines_know_nothing_of_the_api_storage_or_evaluation() {
    graph().check(
        "the engines know no merchant API, device protocol, storage, server or evaluation data",
        ENGINES,
        &["idv-api", "idv-protocol", "idv-specimen", "idv-eval", "idv-store", "idv-server", "axum", "sqlx"],
    );
}

#[test]
fn server_does_not_link_evaluation_code() {
    graph().check("idv-server does not link evaluation code", &["idv-server"], &["idv-eval", "idv-specimen"]);
}

#[test]
fn store_knows_no_http_api_flow_or_engine() {
    let mut forbidden = vec!["axum", "hyper", "idv-api", "idv-protocol", "idv-flow"];
    forbidden.extend(ENGINES);
    graph().check("idv-store knows no HTTP, API, flow or engine", &["idv-store"], &forbidden);
}

#[test]
fn the_s3_backend_moves_bytes_only() {
    // It implements a trait of idv-store (and so links it); what it must not reach is the rest of the system.
    let mut forbidden = vec!["axum", "idv-api", "idv-protocol", "idv-flow", "idv-server"];
    forbidden.extend(ENGINES);
    graph().check("idv-s3 knows no HTTP server, API, flow or engine", &["idv-s3"], &forbidden);
}

#[test]
fn wire_crates_have_no_server_storage_runtime_or_images() {
    graph().check(
        "idv-api and idv-protocol have no HTTP server, SQL, async runtime or images",
        &["idv-api", "idv-protocol"],
        &["axum", "hyper", "tower", "sqlx", "tokio", "image", "imageproc", "fast_image_resize"],
    );
}

#[test]
fn only_the_binary_depends_on_the_server() {
    let g = graph();
    let others: Vec<&str> =
        g.members.keys().map(String::as_str).filter(|m| !["idv", "idv-server"].contains(m)).collect();
    g.check("nothing but idv depends on idv-server", &others, &["idv-server"]);
}

#[test]
fn every_crate_is_in_the_architecture_table() {
    let g = graph();
    let text = architecture_md();
    let table = crate_table(&text);
    let missing: Vec<&String> = g.members.keys().filter(|m| !table.contains(m.as_str())).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's crate table (## Crates) has no row for {missing:?}: add the crate with its job and what it \
         must not know"
    );
}

#[test]
fn the_crate_graph_in_architecture_md_is_current() {
    let g = graph();
    let expected = g.crate_graph_block();
    let path = repo_root().join("ARCHITECTURE.md");
    let text = architecture_md();
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        panic!("ARCHITECTURE.md lacks the markers {BEGIN} … {END} around the crate graph");
    };
    assert!(b < e, "ARCHITECTURE.md: {END} comes before {BEGIN}");
    let current = &text[b + BEGIN.len()..e];
    if current == expected {
        return;
    }
    if std::env::var_os("IDV_BLESS").is_some_and(|v| v == "1") {
        let updated = format!("{}{expected}{}", &text[..b + BEGIN.len()], &text[e..]);
        std::fs::write(&path, updated).unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
        eprintln!("updated the crate graph in {}", path.display());
        return;
    }
    panic!(
        "the crate graph in ARCHITECTURE.md is out of date. Expected between the markers:\n{BEGIN}{expected}{END}\n\n\
         Update it with: IDV_BLESS=1 cargo test -p idv --test it architecture"
    );
}

/// The checker itself, on a made-up workspace: paths through external crates are found, dev-dependencies do not
/// count, and a rule naming a crate the workspace lacks fails.
#[test]
fn the_checker_finds_paths_and_missing_crates() {
    let node = |id: &str, deps: &[(&str, Option<&str>)]| {
        let deps: Vec<Value> = deps
            .iter()
            .map(|(pkg, kind)| serde_json::json!({"pkg": pkg, "dep_kinds": [{"kind": kind, "target": null}]}))
            .collect();
        serde_json::json!({"id": id, "deps": deps})
    };
    let packages: Vec<Value> =
        ["a", "b", "c", "x", "tokio"].map(|n| serde_json::json!({"id": format!("{n}#1"), "name": n})).into();
    let meta = serde_json::json!({
        "packages": packages,
        "workspace_members": ["a#1", "b#1", "c#1"],
        "resolve": {"nodes": [
            node("a#1", &[("b#1", None), ("c#1", Some("dev"))]),
            node("b#1", &[("x#1", None)]),
            node("c#1", &[]),
            node("x#1", &[("tokio#1", None), ("c#1", None)]),
            node("tokio#1", &[]),
        ]},
    });
    let g = Graph::from_metadata(&meta);
    let found =
        |subjects: &[&str], forbidden: &[&str]| g.violations(subjects, forbidden).into_iter().collect::<Vec<_>>();
    assert_eq!(found(&["a"], &["tokio", "c"]), ["a → b → x → c", "a → b → x → tokio"]);
    assert_eq!(found(&["c"], &["a", "tokio", "async-std"]), Vec::<String>::new(), "an absent external crate is fine");
    assert_eq!(found(&["a"], &["idv-nope"]), ["crate idv-nope is missing from the workspace"]);
    assert_eq!(found(&["idv-flow"], &["tokio"]), ["crate idv-flow is missing from the workspace"]);
    let mut block = g.crate_graph_block();
    block.retain(|c| c != ' ');
    assert_eq!(block, "\n```text\na→b\nb→(none)\nc→(none)\n```\n");
}

// ---- the graph ----

struct Graph {
    /// Workspace member name → package id.
    members: BTreeMap<String, String>,
    /// Package id → name, for every package in the resolve.
    names: BTreeMap<String, String>,
    /// Package id → the ids of its normal dependencies (deduplicated, sorted).
    normal: BTreeMap<String, Vec<String>>,
}

impl Graph {
    fn from_metadata(meta: &Value) -> Graph {
        let names: BTreeMap<String, String> = meta["packages"]
            .as_array()
            .expect("metadata: packages")
            .iter()
            .map(|p| (str_of(&p["id"]), str_of(&p["name"])))
            .collect();
        let members = meta["workspace_members"]
            .as_array()
            .expect("metadata: workspace_members")
            .iter()
            .map(|id| (names[id.as_str().unwrap()].clone(), str_of(id)))
            .collect();
        let mut normal = BTreeMap::new();
        for node in meta["resolve"]["nodes"].as_array().expect("metadata: resolve.nodes (not run with --no-deps?)") {
            let deps: BTreeSet<String> = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
                .map(|d| str_of(&d["pkg"]))
                .collect();
            normal.insert(str_of(&node["id"]), deps.into_iter().collect());
        }
        Graph { members, names, normal }
    }

    /// Shortest path of normal dependencies from `from` to any package called `to`, as names.
    fn path(&self, from: &str, to: &str) -> Option<Vec<&str>> {
        let start = self.members.get(from)?;
        let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([start.as_str()]);
        let mut seen = BTreeSet::from([start.as_str()]);
        while let Some(id) = queue.pop_front() {
            if id != start && self.names[id] == to {
                let mut path = vec![self.names[id].as_str()];
                let mut at = id;
                while let Some(p) = previous.get(at) {
                    path.push(self.names[*p].as_str());
                    at = p;
                }
                path.reverse();
                return Some(path);
            }
            for dep in self.normal.get(id).into_iter().flatten() {
                if seen.insert(dep) {
                    previous.insert(dep, id);
                    queue.push_back(dep);
                }
            }
        }
        None
    }

    /// Fails the test with every violation of "no crate of `subjects` depends on any of `forbidden`".
    fn check(&self, rule: &str, subjects: &[&str], forbidden: &[&str]) {
        let problems = self.violations(subjects, forbidden);
        assert!(
            problems.is_empty(),
            "rule \"{rule}\" is broken:\n  {}",
            problems.into_iter().collect::<Vec<_>>().join("\n  ")
        );
    }

    /// The workspace crates the rule names that do not exist, and the paths from a subject to a forbidden crate.
    fn violations(&self, subjects: &[&str], forbidden: &[&str]) -> BTreeSet<String> {
        let mut problems = BTreeSet::new();
        for name in subjects.iter().chain(forbidden) {
            if is_workspace_name(name) && !self.members.contains_key(*name) {
                problems.insert(format!("crate {name} is missing from the workspace"));
            }
        }
        for subject in subjects {
            for f in forbidden {
                if let Some(path) = self.path(subject, f) {
                    problems.insert(path.join(" → "));
                }
            }
        }
        problems
    }

    /// One line per workspace crate: its direct normal dependencies inside the workspace, sorted.
    fn crate_graph_block(&self) -> String {
        let width = self.members.keys().map(|m| m.len()).max().unwrap_or(0);
        let member_ids: BTreeSet<&str> = self.members.values().map(String::as_str).collect();
        let mut block = String::from("\n```text\n");
        for (name, id) in &self.members {
            let deps: BTreeSet<&str> = self.normal[id]
                .iter()
                .filter(|d| member_ids.contains(d.as_str()))
                .map(|d| self.names[d].as_str())
                .collect();
            let deps =
                if deps.is_empty() { "(none)".to_owned() } else { deps.into_iter().collect::<Vec<_>>().join(", ") };
            block.push_str(&format!("{name:<width$} → {deps}\n"));
        }
        block.push_str("```\n");
        block
    }
}

/// Workspace crates are named `idv` or `idv-…`.
fn is_workspace_name(name: &str) -> bool {
    name == "idv" || name.starts_with("idv-")
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("metadata: expected a string, got {v}")).to_owned()
}

fn graph() -> &'static Graph {
    static GRAPH: OnceLock<Graph> = OnceLock::new();
    GRAPH.get_or_init(|| Graph::from_metadata(&cargo_metadata()))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn architecture_md() -> String {
    let path = repo_root().join("ARCHITECTURE.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The crate names (in backticks) of the first column of the table under `## Crates`.
fn crate_table(text: &str) -> BTreeSet<&str> {
    text.lines()
        .skip_while(|l| l.trim() != "## Crates")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.strip_prefix('|')?.split('|').next())
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .collect()
}

/// `cargo metadata` for the workspace, offline. All platforms first; if a platform's crates were never downloaded
/// (an offline machine has only the host's), the host platform alone: the workspace's own edges are the same.
fn cargo_metadata() -> Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = repo_root().join("Cargo.toml");
    let run = |extra: &[&str]| {
        Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--offline", "--manifest-path"])
            .arg(&manifest)
            .args(extra)
            .output()
            .unwrap_or_else(|e| panic!("running {cargo:?} metadata: {e}"))
    };
    let mut out = run(&[]);
    if !out.status.success() {
        let host = Command::new(&cargo).arg("-vV").output().expect("cargo -vV");
        let host = String::from_utf8_lossy(&host.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
            .expect("cargo -vV names the host");
        out = run(&["--filter-platform", &host]);
    }
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata printed JSON")
}
