//! Evaluation over a folder of labelled photos: every pair, genuine vs impostor, and the error counts of
//! the engine's threshold.

use std::fmt;
use std::path::Path;

use idv_face::{FaceAnalysis, FaceEngine, MultiFace, Result, Thresholds, comparison_score};
use idv_vision::VisionError;
use serde::Serialize;

/// Identity label of a photo from its file name: `<identity>[digits][-variant].<ext>`, e.g. `obama2.jpg` and
/// `obama-partial_face2.jpg` are both `obama`, `grace_hopper.jpg` is `grace_hopper`.
pub fn identity_of(file_name: &str) -> String {
    let stem = file_name.rsplit_once('.').map_or(file_name, |(s, _)| s);
    let base = stem.split('-').next().unwrap_or(stem);
    base.trim_end_matches(|c: char| c.is_ascii_digit()).to_string()
}

/// One photo of the evaluation set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalImage {
    pub file: String,
    pub identity: String,
    /// `None` when a face was analysed, else why not (no face, unreadable picture...).
    pub error: Option<String>,
    pub face_count: usize,
    pub face_quality_score: Option<f32>,
}

/// One compared pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairScore {
    pub a: String,
    pub b: String,
    pub cosine: f32,
    pub score: f32,
}

/// Result of [`evaluate`]; `Display` prints the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub images: Vec<EvalImage>,
    /// Same-identity pairs, lowest cosine first.
    pub genuine: Vec<PairScore>,
    /// Different-identity pairs, highest cosine first.
    pub impostor: Vec<PairScore>,
    pub thresholds: Thresholds,
    /// Genuine pairs below the threshold.
    pub false_non_matches: usize,
    /// Impostor pairs at or above the threshold.
    pub false_matches: usize,
}

/// Analyses every JPEG/PNG/WebP directly in `dir` (not its subfolders) and compares all pairs of analysed
/// faces. Pictures without a usable face are listed with their error and left out of the pairs.
pub fn evaluate(engine: &FaceEngine, dir: &Path) -> Result<EvalReport> {
    let io = |source| VisionError::Io { path: dir.to_path_buf(), source };
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            let l = n.to_ascii_lowercase();
            [".jpg", ".jpeg", ".png", ".webp"].iter().any(|x| l.ends_with(x))
        })
        .collect();
    files.sort();

    let mut images = Vec::new();
    let mut analysed: Vec<(String, String, FaceAnalysis)> = Vec::new();
    for file in files {
        let identity = identity_of(&file);
        let bytes =
            std::fs::read(dir.join(&file)).map_err(|source| VisionError::Io { path: dir.join(&file), source })?;
        let outcome = engine.decode(&bytes).and_then(|img| engine.analyze(&img, MultiFace::Largest));
        match outcome {
            Ok(a) => {
                images.push(EvalImage {
                    file: file.clone(),
                    identity: identity.clone(),
                    error: None,
                    face_count: a.face_count,
                    face_quality_score: Some(a.quality.face_quality_score),
                });
                analysed.push((file, identity, a));
            }
            // Installation problems abort the evaluation; picture problems are part of the report.
            Err(e) if !e.is_bad_input() => return Err(e),
            Err(e) => images.push(EvalImage {
                file,
                identity,
                error: Some(e.to_string()),
                face_count: 0,
                face_quality_score: None,
            }),
        }
    }

    let t = engine.config().decision_cosine;
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for (i, (fa, ia, a)) in analysed.iter().enumerate() {
        for (fb, ib, b) in &analysed[i + 1..] {
            let cosine = a.embedding.cosine(&b.embedding);
            let pair = PairScore { a: fa.clone(), b: fb.clone(), cosine, score: comparison_score(cosine, t) };
            if ia == ib {
                genuine.push(pair);
            } else {
                impostor.push(pair);
            }
        }
    }
    genuine.sort_by(|x, y| x.cosine.total_cmp(&y.cosine));
    impostor.sort_by(|x, y| y.cosine.total_cmp(&x.cosine));
    Ok(EvalReport {
        false_non_matches: genuine.iter().filter(|p| p.cosine < t).count(),
        false_matches: impostor.iter().filter(|p| p.cosine >= t).count(),
        images,
        genuine,
        impostor,
        thresholds: engine.info().thresholds,
    })
}

fn summary(pairs: &[PairScore]) -> String {
    if pairs.is_empty() {
        return "none".into();
    }
    let n = pairs.len() as f32;
    let (min, max) = pairs.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| (lo.min(p.cosine), hi.max(p.cosine)));
    let mean = pairs.iter().map(|p| p.cosine).sum::<f32>() / n;
    format!("{} pairs, cosine min {min:.3} mean {mean:.3} max {max:.3}", pairs.len())
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "images:")?;
        for i in &self.images {
            match (&i.error, i.face_quality_score) {
                (None, Some(q)) => {
                    writeln!(f, "  {:<28} {:<14} faces {:>2}  quality {q:5.1}", i.file, i.identity, i.face_count)?
                }
                (err, _) => {
                    writeln!(f, "  {:<28} {:<14} not analysed: {}", i.file, i.identity, err.as_deref().unwrap_or("-"))?
                }
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, p: &PairScore| {
            writeln!(f, "  {:<28} {:<28} cosine {:6.3}  score {:6.2}", p.a, p.b, p.cosine, p.score)
        };
        writeln!(f, "genuine: {}", summary(&self.genuine))?;
        for p in &self.genuine {
            line(f, p)?;
        }
        writeln!(f, "impostor: {}", summary(&self.impostor))?;
        for p in &self.impostor {
            line(f, p)?;
        }
        let t = self.thresholds.decision_cosine;
        writeln!(f, "threshold: cosine {t:.3} (score {:.0})", self.thresholds.decision_score)?;
        writeln!(f, "false non-matches: {} of {} genuine pairs", self.false_non_matches, self.genuine.len())?;
        writeln!(f, "false matches: {} of {} impostor pairs", self.false_matches, self.impostor.len())?;
        if let (Some(g), Some(i)) = (self.genuine.first(), self.impostor.first()) {
            writeln!(
                f,
                "margins: lowest genuine {:+.3} above threshold, highest impostor {:+.3} below",
                g.cosine - t,
                t - i.cosine
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_labels_from_file_names() {
        assert_eq!(identity_of("obama.jpg"), "obama");
        assert_eq!(identity_of("obama2.jpg"), "obama");
        assert_eq!(identity_of("obama-partial_face2.jpg"), "obama");
        assert_eq!(identity_of("grace_hopper.jpg"), "grace_hopper");
        assert_eq!(identity_of("messi5.jpg"), "messi");
    }
}
