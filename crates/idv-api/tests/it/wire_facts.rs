//! `docs/wire-facts.md` is where the wire facts these tests rely on are written down with their provenance; its
//! test-vector table must describe the fixture the tests actually use.

use std::path::{Path, PathBuf};

use crate::vectors::load;

const WIRE_FACTS: &str = include_str!("../../../../docs/wire-facts.md");

#[test]
fn the_documented_vector_table_matches_the_fixture() {
    let rows: Vec<(&str, &str)> = WIRE_FACTS
        .lines()
        .skip_while(|l| *l != "### Test vectors")
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with("| ") && !l.starts_with("| vector"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (cells.len() == 3).then(|| (cells[0], cells[2].trim_matches('`')))
        })
        .collect();
    let fixture: Vec<(String, String)> = load().into_iter().map(|v| (v.name, v.expected.expected_signature)).collect();
    let fixture: Vec<(&str, &str)> = fixture.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    assert_eq!(rows, fixture, "docs/wire-facts.md#test-vectors must list the fixture's vectors, in order");
}

#[test]
fn the_documented_test_access_key_is_the_fixtures() {
    for v in load() {
        assert!(WIRE_FACTS.contains(&format!("`{}`", v.access_key_id)), "{}", v.name);
        assert!(WIRE_FACTS.contains(&format!("`{}`", v.access_key_secret)), "{}", v.name);
        assert_eq!(v.access_key_id, crate::common::AK_ID);
        assert_eq!(v.access_key_secret, crate::common::AK_SECRET);
    }
}

/// Every section of `docs/wire-facts.md` that the code and docs cite exists (anchors as GitHub makes them: lower
/// case, spaces as dashes, punctuation dropped).
#[test]
fn every_cited_section_exists() {
    let anchors: Vec<String> = WIRE_FACTS
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![root.join("ARCHITECTURE.md"), root.join("README.md")];
    collect(&root.join("docs"), &mut files);
    collect(&root.join("crates"), &mut files);
    let mut cited = 0;
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for (_, rest) in text.match_indices("wire-facts.md#").map(|(i, m)| (i, &text[i + m.len()..])) {
            let anchor: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_').collect();
            if anchor.is_empty() {
                continue; // this file's own pattern and messages
            }
            assert!(
                anchors.contains(&anchor),
                "{} cites docs/wire-facts.md#{anchor}, which does not exist",
                file.display()
            );
            cited += 1;
        }
    }
    assert!(cited > 10, "the citations were not found ({cited})");
}

/// The `.rs` and `.md` files under `dir`, build output excluded.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target" && n != "fixtures") {
                collect(&path, out);
            }
        } else if path.extension().is_some_and(|x| x == "rs" || x == "md") {
            out.push(path);
        }
    }
}
