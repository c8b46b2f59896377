//! Cosine similarity to the API's 0..100 `FaceComparisonScore`, and the decision threshold.

use serde::Serialize;

/// SFace cosine at and above which two faces are declared the same person. See the crate documentation
/// ("Calibration") for the measurements and the reasoning.
pub const DEFAULT_DECISION_COSINE: f32 = 0.50;

/// `FaceComparisonScore` given to a cosine exactly at the decision threshold, so "score >= 70" is the same
/// decision as "cosine >= threshold" for callers that only see the score.
pub const SCORE_AT_THRESHOLD: f32 = 70.0;

/// Everything a decision depended on, stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub decision_cosine: f32,
    pub decision_score: f32,
    pub detector_score: f32,
}

/// Maps cosine similarity to 0..100, piecewise linear and monotonic: cosine <= 0 gives 0; 0..t maps to
/// 0..70; t..1 maps to 70..100 (t = `decision_cosine`). Rounded to two decimals like the API's examples.
pub fn comparison_score(cosine: f32, decision_cosine: f32) -> f32 {
    let t = decision_cosine.clamp(0.01, 0.99);
    let c = cosine.clamp(-1.0, 1.0);
    let raw = if c <= 0.0 {
        0.0
    } else if c < t {
        SCORE_AT_THRESHOLD * c / t
    } else {
        SCORE_AT_THRESHOLD + (100.0 - SCORE_AT_THRESHOLD) * (c - t) / (1.0 - t)
    };
    let rounded = (raw * 100.0).round() / 100.0;
    // Rounding must not lift a rejected cosine onto the pass mark.
    if c < t { rounded.min(SCORE_AT_THRESHOLD - 0.01) } else { rounded }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_and_monotonicity() {
        let t = DEFAULT_DECISION_COSINE;
        assert_eq!(comparison_score(-0.3, t), 0.0);
        assert_eq!(comparison_score(0.0, t), 0.0);
        assert_eq!(comparison_score(t, t), SCORE_AT_THRESHOLD);
        assert_eq!(comparison_score(1.0, t), 100.0);
        let mut last = -1.0;
        for i in -100..=100 {
            let s = comparison_score(i as f32 / 100.0, t);
            assert!(s >= last, "not monotonic at {i}");
            assert!((0.0..=100.0).contains(&s));
            last = s;
        }
    }

    #[test]
    fn score_threshold_matches_cosine_threshold() {
        let t = DEFAULT_DECISION_COSINE;
        assert!(comparison_score(t - 0.001, t) < SCORE_AT_THRESHOLD);
        assert!(comparison_score(t + 0.001, t) > SCORE_AT_THRESHOLD);
        assert!(comparison_score(t - 1e-6, t) < SCORE_AT_THRESHOLD);
    }
}
