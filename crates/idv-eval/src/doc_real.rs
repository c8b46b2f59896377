//! Evaluation on real document pictures: every picture of a folder with its MRZ ground truth beside it
//! (`NAME.mrz.txt`, the lines as printed), read as `idv doc read` reads it, counted per MRZ format as exact,
//! wrong-but-valid (every check digit holds and the read differs from the truth: the dangerous failure), reported
//! invalid (a zone printed with invalid check digits must be reported so, never repaired), unread, or not
//! supported (a format the engine does not read yet). **Real data**, read from outside the repository
//! (`../shared/realdata/docs`); nothing of it is copied in.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use idv_doc::{CardSide, DocEngine, DocRequest, DocTypeSpec, MrzFormat};

/// One picture's outcome.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RealCase {
    pub file: String,
    /// `TD1`, `TD2`, `TD3`, `MRV-A`, `MRV-B`, from the ground truth's shape.
    pub format: &'static str,
    /// The ground truth's check digits all hold as printed.
    pub printed_valid: bool,
    /// `exact`, `wrong_but_valid`, `reported_invalid`, `misread_invalid`, `unread` or `unsupported`.
    pub outcome: &'static str,
    /// What the engine said when it read nothing.
    pub detail: String,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RealReport {
    pub cases: Vec<RealCase>,
}

impl RealReport {
    /// Pictures per (format, outcome).
    pub fn counts(&self) -> BTreeMap<(&'static str, &'static str), usize> {
        let mut m = BTreeMap::new();
        for c in &self.cases {
            *m.entry((c.format, c.outcome)).or_insert(0) += 1;
        }
        m
    }

    pub fn count(&self, outcome: &str) -> usize {
        self.cases.iter().filter(|c| c.outcome == outcome).count()
    }
}

/// The format of an MRZ from its lines' count and length (ICAO 9303 parts 4-7).
pub fn format_of(lines: &[String]) -> Option<&'static str> {
    let visa = lines.first().is_some_and(|l| l.starts_with('V'));
    match (lines.len(), lines.first().map_or(0, |l| l.chars().count())) {
        (3, 30) => Some("TD1"),
        (2, 36) if visa => Some("MRV-B"),
        (2, 36) => Some("TD2"),
        (2, 44) if visa => Some("MRV-A"),
        (2, 44) => Some("TD3"),
        _ => None,
    }
}

/// Whether every check digit of an MRZ holds as printed (by the `mrz` crate's parser for its format).
fn printed_valid(format: &str, lines: &[String]) -> bool {
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let parsed = match (format, refs.as_slice()) {
        ("TD3", [a, b]) => mrz::parse_td3(a, b),
        ("TD2", [a, b]) => mrz::parse_td2(a, b),
        ("MRV-A", [a, b]) => mrz::parse_mrv_a(a, b),
        ("MRV-B", [a, b]) => mrz::parse_mrv_b(a, b),
        ("TD1", [a, b, c]) => mrz::parse_td1(a, b, c),
        _ => return false,
    };
    parsed.is_ok_and(|d| d.valid())
}

/// The request a picture of this format is read with: its own DocType (`GLB03002`, `GLB01001` back, `GLB01002`,
/// `GLB07001`, `GLB07002`), or with `any` the one code for every ICAO document, `GLB00000`, whose reading must
/// then detect the format itself.
fn request_for(format: &str, any: bool) -> Option<(DocTypeSpec, CardSide)> {
    if any {
        return Some((DocTypeSpec::any("GLB00000"), CardSide::Front));
    }
    Some(match format {
        "TD3" => (DocTypeSpec::passport("GLB03002"), CardSide::Front),
        "TD1" => (DocTypeSpec::id_card("GLB01001"), CardSide::Back),
        "TD2" => (DocTypeSpec::td2_card("GLB01002"), CardSide::Front),
        "MRV-A" => (DocTypeSpec::visa("GLB07001", MrzFormat::MrvA), CardSide::Front),
        "MRV-B" => (DocTypeSpec::visa("GLB07002", MrzFormat::MrvB), CardSide::Front),
        _ => return None,
    })
}

/// Reads every picture in `dir` that has a `NAME.mrz.txt` beside it, each with its format's DocType, or with
/// `any` as `GLB00000` (then a read of the wrong format counts as a misread).
pub fn evaluate_real(engine: &DocEngine, dir: &Path, today: mrz::Date, any: bool) -> std::io::Result<RealReport> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| !n.ends_with(".txt") && !n.ends_with(".tsv") && !n.ends_with(".md"))
        .collect();
    names.sort();
    let mut report = RealReport::default();
    for name in names {
        let Ok(truth) = std::fs::read_to_string(dir.join(format!("{name}.mrz.txt"))) else { continue };
        let truth: Vec<String> = truth.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
        let Some(format) = format_of(&truth) else { continue };
        let printed_valid = printed_valid(format, &truth);
        let Some((spec, side)) = request_for(format, any) else {
            report.cases.push(RealCase {
                file: name,
                format,
                printed_valid,
                outcome: "unsupported",
                detail: format!("no document type reads {format}"),
            });
            continue;
        };
        let bytes = std::fs::read(dir.join(&name))?;
        let req = DocRequest::new(spec, today).with_side(side);
        let (outcome, detail) = match engine.read_bytes(&bytes, &req) {
            Err(e) => ("unread", e.to_string()),
            Ok(r) => match &r.mrz {
                None => ("unread", "no machine-readable zone found".to_owned()),
                Some(m) => match (m.lines == truth && m.format.as_str() == format, m.valid) {
                    (true, true) => {
                        ("exact", format!("MRZ characters {:.1} px, confidence {:?}", r.mrz_char_px, m.line_confidence))
                    }
                    (true, false) if !printed_valid => ("reported_invalid", String::new()),
                    (true, false) => ("unread", "read exactly but reported invalid".to_owned()),
                    (false, true) => ("wrong_but_valid", m.lines.join(" / ")),
                    // A zone printed invalid (or with characters outside the MRZ alphabet, which no read can
                    // reproduce) is rightly reported invalid.
                    (false, false) if !printed_valid => ("reported_invalid", m.lines.join(" / ")),
                    (false, false) => ("misread_invalid", m.lines.join(" / ")),
                },
            },
        };
        report.cases.push(RealCase { file: name, format, printed_valid, outcome, detail });
    }
    Ok(report)
}

impl fmt::Display for RealReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Document reading on REAL pictures ({} with ground truth):", self.cases.len())?;
        for c in &self.cases {
            writeln!(
                f,
                "  {:<22} {:<6} {:<18} {}",
                c.file,
                c.format,
                c.outcome,
                c.detail.chars().take(90).collect::<String>()
            )?;
        }
        writeln!(f, "by format:")?;
        for ((format, outcome), n) in self.counts() {
            writeln!(f, "  {format:<6} {outcome:<18} {n}")?;
        }
        write!(
            f,
            "exact {}, wrong-but-valid {}, reported invalid {}, unread {}, misread (invalid) {}, unsupported {}",
            self.count("exact"),
            self.count("wrong_but_valid"),
            self.count("reported_invalid"),
            self.count("unread"),
            self.count("misread_invalid"),
            self.count("unsupported")
        )
    }
}
