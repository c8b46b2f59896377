//! Evaluation on rendered specimens: field-level accuracy, MRZ exact-read rate and the rate of MRZ reads that
//! pass every check digit yet differ from the truth (the dangerous failure; it must stay at zero).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Instant;

use idv_doc::{CardSide, DocEngine, DocError, DocRequest, DocTypeSpec, Field};
use idv_specimen::{Assets as SpecAssets, Distortion, DocKind, Identity, SpecimenSpec, Validity, Ymd};

#[derive(Clone, Debug, Default)]
struct Tally {
    pages: usize,
    retakes: usize,
    mrz_pages: usize,
    mrz_exact: usize,
    mrz_wrong_valid: usize,
    fields: usize,
    fields_right: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.pages += o.pages;
        self.retakes += o.retakes;
        self.mrz_pages += o.mrz_pages;
        self.mrz_exact += o.mrz_exact;
        self.mrz_wrong_valid += o.mrz_wrong_valid;
        self.fields += o.fields;
        self.fields_right += o.fields_right;
    }
}

/// Results of [`evaluate`]; `Display` prints the tables.
#[derive(Clone, Debug, Default)]
pub struct EvalReport {
    pub identities: usize,
    pub seed: u64,
    by_condition: BTreeMap<String, Tally>,
    by_field: BTreeMap<&'static str, (usize, usize)>,
    /// Up to 20 examples of misreads, for inspection.
    pub examples: Vec<String>,
    pub millis: Vec<f64>,
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 { f64::NAN } else { 100.0 * a as f64 / b as f64 }
}

impl EvalReport {
    fn total(&self, distorted_only: bool) -> Tally {
        let mut t = Tally::default();
        for (k, v) in &self.by_condition {
            if !distorted_only || k != "clean" {
                t.add(v);
            }
        }
        t
    }

    /// MRZ pages read exactly, over the distorted conditions (all but `clean`).
    pub fn mrz_exact_rate_distorted(&self) -> f64 {
        let t = self.total(true);
        pct(t.mrz_exact, t.mrz_pages)
    }

    /// MRZ reads whose every check digit passes but which differ from the truth, over all MRZ pages.
    pub fn wrong_but_valid_rate(&self) -> f64 {
        let t = self.total(false);
        pct(t.mrz_wrong_valid, t.mrz_pages)
    }

    pub fn wrong_but_valid(&self) -> usize {
        self.total(false).mrz_wrong_valid
    }

    pub fn field_accuracy(&self) -> f64 {
        let t = self.total(false);
        pct(t.fields_right, t.fields)
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "document evaluation: {} identities, seed {}", self.identities, self.seed)?;
        writeln!(
            f,
            "{:<12} {:>6} {:>8} {:>10} {:>12} {:>10}",
            "condition", "pages", "retakes", "MRZ exact", "wrong+valid", "fields"
        )?;
        for (k, t) in &self.by_condition {
            writeln!(
                f,
                "{:<12} {:>6} {:>8} {:>9.1}% {:>12} {:>9.1}%",
                k,
                t.pages,
                t.retakes,
                pct(t.mrz_exact, t.mrz_pages),
                t.mrz_wrong_valid,
                pct(t.fields_right, t.fields)
            )?;
        }
        let all = self.total(false);
        writeln!(
            f,
            "{:<12} {:>6} {:>8} {:>9.1}% {:>12} {:>9.1}%",
            "all",
            all.pages,
            all.retakes,
            pct(all.mrz_exact, all.mrz_pages),
            all.mrz_wrong_valid,
            pct(all.fields_right, all.fields)
        )?;
        writeln!(f, "MRZ exact on distorted conditions: {:.2}%", self.mrz_exact_rate_distorted())?;
        writeln!(f, "wrong-but-valid MRZ reads: {} ({:.2}%)", self.wrong_but_valid(), self.wrong_but_valid_rate())?;
        writeln!(f, "field accuracy by field:")?;
        for (k, (right, n)) in &self.by_field {
            writeln!(f, "  {k:<16} {:>6.1}% of {n}", pct(*right, *n))?;
        }
        if !self.millis.is_empty() {
            let mut m = self.millis.clone();
            m.sort_by(f64::total_cmp);
            let q = |p: f64| m[((m.len() - 1) as f64 * p).round() as usize];
            writeln!(f, "time per page: p50 {:.0} ms, p99 {:.0} ms ({} pages)", q(0.5), q(0.99), m.len())?;
        }
        for e in &self.examples {
            writeln!(f, "  miss: {e}")?;
        }
        Ok(())
    }
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase()
}

fn field_of(p: idv_specimen::PrintedField) -> Field {
    use idv_specimen::PrintedField as P;
    match p {
        P::DocumentType => Field::DocumentType,
        P::IssuingCountry => Field::IssuingCountry,
        P::DocumentNumber => Field::DocumentNumber,
        P::Surname => Field::Surname,
        P::GivenNames => Field::GivenNames,
        P::Nationality => Field::Nationality,
        P::BirthDate => Field::BirthDate,
        P::Sex => Field::Sex,
        P::PlaceOfBirth => Field::PlaceOfBirth,
        P::IssueDate => Field::IssueDate,
        P::Authority => Field::Authority,
        P::ExpiryDate => Field::ExpiryDate,
        P::PersonalNumber => Field::PersonalNumber,
        P::Address => Field::Address,
    }
}

/// The DocType and side each specimen kind is read as.
pub fn request_for(kind: DocKind) -> (DocTypeSpec, CardSide) {
    match kind {
        DocKind::Td3 => (DocTypeSpec::passport("GLB03002"), CardSide::Front),
        DocKind::Td1Back => (DocTypeSpec::id_card("GLB01001"), CardSide::Back),
        DocKind::Td1Front => (DocTypeSpec::id_card("GLB01001"), CardSide::Front),
        DocKind::Td2 => (DocTypeSpec::td2_card("GLB01002"), CardSide::Front),
        DocKind::MrvA => (DocTypeSpec::visa("GLB07001", idv_doc::MrzFormat::MrvA), CardSide::Front),
        DocKind::MrvB => (DocTypeSpec::visa("GLB07002", idv_doc::MrzFormat::MrvB), CardSide::Front),
    }
}

/// Render `n` identities (seeds `seed..seed+n`) as a passport page and both sides of an ID card, under
/// each named distortion preset, read each with `engine`, and score the reads against the ground truth.
/// `today` anchors the generated validity dates.
pub fn evaluate_with(
    engine: &DocEngine,
    assets: &SpecAssets,
    n: usize,
    seed: u64,
    today: Ymd,
    presets: &[&str],
) -> Result<EvalReport, DocError> {
    let mut report = EvalReport { identities: n, seed, ..EvalReport::default() };
    let mdate = mrz::Date::new(today.year, today.month, today.day);
    for i in 0..n {
        let s = seed.wrapping_add(i as u64);
        let identity = Identity::generate(s, today, Validity::Valid);
        for kind in [DocKind::Td3, DocKind::Td1Back, DocKind::Td1Front, DocKind::Td2, DocKind::MrvA, DocKind::MrvB] {
            let (doc_type, side) = request_for(kind);
            let req = DocRequest::new(doc_type, mdate).with_side(side);
            for &name in presets {
                let Some(distortion) = Distortion::preset(name) else { continue };
                let spec = SpecimenSpec {
                    kind,
                    identity: identity.clone(),
                    tamper: Default::default(),
                    distortion,
                    px_per_mm: 12.0,
                    today,
                    seed: s,
                };
                let sp = idv_specimen::render(&spec, assets).map_err(|e| DocError::Model(format!("specimen: {e}")))?;
                let t0 = Instant::now();
                let read = engine.read_image(&sp.image, &req);
                report.millis.push(t0.elapsed().as_secs_f64() * 1e3);
                let mut tally = Tally { pages: 1, ..Tally::default() };
                let has_mrz = !sp.truth.mrz.is_empty();
                if has_mrz {
                    tally.mrz_pages = 1;
                }
                match read {
                    Err(DocError::Retake(reason)) => {
                        tally.retakes = 1;
                        tally.fields = sp.truth.printed.len();
                        for k in sp.truth.printed.keys() {
                            report.by_field.entry(k.as_str()).or_default().1 += 1;
                        }
                        if report.examples.len() < 20 {
                            report.examples.push(format!("{} seed {s} {name}: retake ({reason})", kind.as_str()));
                        }
                    }
                    Err(e) => return Err(e),
                    Ok(r) => {
                        if has_mrz {
                            match &r.mrz {
                                Some(m) if m.lines == sp.truth.mrz => tally.mrz_exact = 1,
                                Some(m) => {
                                    if m.valid {
                                        tally.mrz_wrong_valid = 1;
                                    }
                                    if report.examples.len() < 20 {
                                        report.examples.push(format!(
                                            "{} seed {s} {name}: MRZ {:?} vs {:?}",
                                            kind.as_str(),
                                            m.lines,
                                            sp.truth.mrz
                                        ));
                                    }
                                }
                                None => {}
                            }
                        }
                        for (pf, truth) in &sp.truth.printed {
                            let got = r.printed.get(&field_of(*pf));
                            let ok = got.is_some_and(|g| norm(g) == norm(truth));
                            tally.fields += 1;
                            tally.fields_right += usize::from(ok);
                            let e = report.by_field.entry(pf.as_str()).or_default();
                            e.1 += 1;
                            e.0 += usize::from(ok);
                            if !ok && report.examples.len() < 20 {
                                report.examples.push(format!(
                                    "{} seed {s} {name}: {} {:?} vs {truth:?}",
                                    kind.as_str(),
                                    pf.as_str(),
                                    got
                                ));
                            }
                        }
                    }
                }
                report.by_condition.entry(name.to_string()).or_default().add(&tally);
            }
        }
    }
    Ok(report)
}

/// [`evaluate_with`] over every distortion preset, using the repository's assets (`IDV_ASSETS_DIR` or the current directory) and the
/// ICAO-specimen reference day 2026-05-01, so reports are comparable between runs.
pub fn evaluate(n: usize, seed: u64) -> Result<EvalReport, DocError> {
    let assets = idv_vision::Assets::from_env();
    let engine = DocEngine::load(&assets)?;
    let spec_assets = SpecAssets::load(assets.root()).map_err(|e| DocError::Model(e.to_string()))?;
    evaluate_with(&engine, &spec_assets, n, seed, Ymd::new(2026, 5, 1), &Distortion::PRESETS)
}

/// Convenience for binaries: whether `root` looks like an assets root.
pub fn has_assets(root: &Path) -> bool {
    root.join(idv_doc::DET_MODEL).is_file() && root.join(idv_doc::REC_MODEL).is_file()
}
