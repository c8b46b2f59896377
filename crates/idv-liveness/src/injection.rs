//! Injection defences that need no model: frame timing and duplicated frames. A virtual camera or a script
//! posting prepared frames tends to get one of them wrong: timestamps that do not match the requested
//! cadence, a loop of the same picture, or a still picture repeated without sensor noise.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::challenge::ChallengeSpec;
use crate::verdict::{Reason, ReasonCode};

/// sha256 of an uploaded frame's bytes, for the server to MAC or record (replay across sessions is its job).
pub fn frame_digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Timing tolerances.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimingRules {
    pub min_frames: usize,
    /// The median spacing may differ from `frame_interval_ms` by this fraction.
    pub median_tolerance: f32,
    /// No spacing may be shorter than this fraction of `frame_interval_ms` (a camera cannot deliver faster).
    pub min_spacing: f32,
    /// Spacings longer than this many intervals are gaps (dropped frames); at most `max_gap_fraction` of the
    /// spacings may be gaps and none longer than `max_gap` intervals.
    pub gap: f32,
    pub max_gap: f32,
    pub max_gap_fraction: f32,
    /// Shortest plausible time per action, milliseconds.
    pub min_ms_per_action: u32,
    /// Slack beyond the end of the challenge (its last window, or its flash sequence), in action windows.
    pub slack_windows: f32,
}

impl Default for TimingRules {
    fn default() -> Self {
        Self {
            min_frames: 6,
            median_tolerance: 0.35,
            min_spacing: 0.4,
            gap: 1.6,
            max_gap: 6.0,
            max_gap_fraction: 0.15,
            min_ms_per_action: 300,
            slack_windows: 1.0,
        }
    }
}

/// Checks capture times against the challenge; returns the reasons found (empty when plausible).
pub fn check_timestamps(spec: &ChallengeSpec, t_ms: &[u32], rules: &TimingRules) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if t_ms.len() < rules.min_frames {
        reasons.push(Reason::new(
            ReasonCode::TooFewFrames,
            format!("{} frames, at least {} needed", t_ms.len(), rules.min_frames),
        ));
        return reasons;
    }
    if let Some(i) = t_ms.windows(2).position(|w| w[1] <= w[0]) {
        reasons.push(Reason::new(
            ReasonCode::TimestampsOutOfOrder,
            format!("frame {} at {} ms does not follow frame {} at {} ms", i + 1, t_ms[i + 1], i, t_ms[i]),
        ));
        return reasons;
    }
    let e = spec.frame_interval_ms as f32;
    let mut d: Vec<f32> = t_ms.windows(2).map(|w| (w[1] - w[0]) as f32).collect();
    d.sort_by(f32::total_cmp);
    let median = d[d.len() / 2];
    let gaps = d.iter().filter(|&&x| x > rules.gap * e).count();
    if (median - e).abs() > rules.median_tolerance * e {
        reasons.push(Reason::new(
            ReasonCode::FrameRateMismatch,
            format!("median spacing {median:.0} ms, the challenge asked for {e:.0} ms"),
        ));
    } else if d[0] < rules.min_spacing * e {
        reasons.push(Reason::new(
            ReasonCode::FrameRateMismatch,
            format!("two frames {:.0} ms apart at a cadence of {e:.0} ms", d[0]),
        ));
    } else if d[d.len() - 1] > rules.max_gap * e || gaps as f32 > rules.max_gap_fraction * d.len() as f32 {
        reasons.push(Reason::new(
            ReasonCode::FrameRateMismatch,
            format!("{gaps} gaps, the longest {:.0} ms, at a cadence of {e:.0} ms", d[d.len() - 1]),
        ));
    }
    let duration = t_ms[t_ms.len() - 1] - t_ms[0];
    let n_actions = spec.actions.len() as u32;
    let flash_ms = spec.colours.len() as u32 * spec.colour_ms;
    let max = spec.capture_ms() + (rules.slack_windows * spec.action_window_ms as f32) as u32;
    let min = (n_actions * rules.min_ms_per_action).max(flash_ms.saturating_sub(spec.frame_interval_ms));
    if duration > max || duration < min {
        reasons.push(Reason::new(
            ReasonCode::DurationImplausible,
            format!("frames span {duration} ms, expected {min}..{max} ms for this challenge"),
        ));
    }
    reasons
}

/// Duplicate-frame rules.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DuplicateRules {
    /// Mean absolute grey difference (0..255, every 2nd pixel of every 2nd row) under which two consecutive
    /// frames count as frozen. Sensor noise alone keeps real consecutive frames above about 1.5.
    pub frozen_mad: f32,
    /// This many frozen pairs in a row are refused.
    pub frozen_run: usize,
}

impl Default for DuplicateRules {
    fn default() -> Self {
        Self { frozen_mad: 0.5, frozen_run: 2 }
    }
}

/// Finds bit-identical frames anywhere in the sequence and runs of near-identical consecutive frames.
/// `frames` are `(width, height, rgb)`.
pub fn check_duplicates(frames: &[(u32, u32, &[u8])], rules: &DuplicateRules) -> (Vec<Reason>, f32) {
    let mut reasons = Vec::new();
    let mut seen: Vec<([u8; 32], usize)> = Vec::with_capacity(frames.len());
    for (i, (w, h, rgb)) in frames.iter().enumerate() {
        let mut hasher = Sha256::new();
        hasher.update(w.to_le_bytes());
        hasher.update(h.to_le_bytes());
        hasher.update(rgb);
        let digest: [u8; 32] = hasher.finalize().into();
        if let Some((_, j)) = seen.iter().find(|(d, _)| *d == digest) {
            reasons.push(Reason::new(ReasonCode::DuplicateFrames, format!("frame {i} is identical to frame {j}")));
            break;
        }
        seen.push((digest, i));
    }
    let mut run = 0;
    let mut min_mad = f32::INFINITY;
    for (i, pair) in frames.windows(2).enumerate() {
        let ((w0, h0, a), (w1, h1, b)) = (pair[0], pair[1]);
        if (w0, h0) != (w1, h1) {
            run = 0;
            continue;
        }
        let mad = grey_mad(w0 as usize, h0 as usize, a, b);
        min_mad = min_mad.min(mad);
        if mad < rules.frozen_mad {
            run += 1;
            if run >= rules.frozen_run && !reasons.iter().any(|r: &Reason| r.code == ReasonCode::FrozenFrames) {
                reasons.push(Reason::new(
                    ReasonCode::FrozenFrames,
                    format!("frames {}..={} differ by {mad:.2} grey levels on average", i + 1 - run, i + 1),
                ));
            }
        } else {
            run = 0;
        }
    }
    (reasons, if min_mad.is_finite() { min_mad } else { 0.0 })
}

fn grey_mad(w: usize, h: usize, a: &[u8], b: &[u8]) -> f32 {
    let (mut sum, mut n) = (0u64, 0u64);
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            let i = (y * w + x) * 3;
            let ga = 299 * u32::from(a[i]) + 587 * u32::from(a[i + 1]) + 114 * u32::from(a[i + 2]);
            let gb = 299 * u32::from(b[i]) + 587 * u32::from(b[i + 1]) + 114 * u32::from(b[i + 2]);
            sum += u64::from(ga.abs_diff(gb));
            n += 1;
        }
    }
    (sum as f64 / n.max(1) as f64 / 1000.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::Action;

    fn spec() -> ChallengeSpec {
        ChallengeSpec {
            actions: vec![Action::Blink, Action::HeadLeft],
            cues_ms: vec![1000, 3500],
            colours: vec![],
            colour_ms: 0,
            frame_interval_ms: 100,
            action_window_ms: 2000,
        }
    }

    fn codes(r: &[Reason]) -> Vec<ReasonCode> {
        r.iter().map(|r| r.code).collect()
    }

    #[test]
    fn timing_rules() {
        let rules = TimingRules::default();
        let good: Vec<u32> = (0..30).map(|i| 10 + i * 100 + (i * 37 % 11)).collect();
        assert!(check_timestamps(&spec(), &good, &rules).is_empty());
        let mut swapped = good.clone();
        swapped.swap(3, 4);
        assert_eq!(codes(&check_timestamps(&spec(), &swapped, &rules)), [ReasonCode::TimestampsOutOfOrder]);
        let fast: Vec<u32> = (0..30).map(|i| i * 33).collect();
        assert_eq!(codes(&check_timestamps(&spec(), &fast, &rules)), [ReasonCode::FrameRateMismatch]);
        let long: Vec<u32> = (0..80).map(|i| i * 100).collect();
        assert_eq!(codes(&check_timestamps(&spec(), &long, &rules)), [ReasonCode::DurationImplausible]);
        let mut burst = good.clone();
        burst[10] = burst[9] + 5;
        assert_eq!(codes(&check_timestamps(&spec(), &burst, &rules)), [ReasonCode::FrameRateMismatch]);
        assert_eq!(codes(&check_timestamps(&spec(), &good[..3], &rules)), [ReasonCode::TooFewFrames]);
    }

    #[test]
    fn duplicates_and_frozen_runs() {
        let noisy = |seed: u32| -> Vec<u8> {
            (0..16 * 16 * 3).map(|i| ((i as u32 * 7919 + seed * 104_729) % 13) as u8 + 100).collect()
        };
        let (a, b, c) = (noisy(1), noisy(2), noisy(3));
        let frames = [(16, 16, &a[..]), (16, 16, &b[..]), (16, 16, &c[..])];
        assert!(check_duplicates(&frames, &DuplicateRules::default()).0.is_empty());
        let frames = [(16, 16, &a[..]), (16, 16, &b[..]), (16, 16, &a[..])];
        assert_eq!(codes(&check_duplicates(&frames, &DuplicateRules::default()).0), [ReasonCode::DuplicateFrames]);
        let mut a2 = a.clone();
        a2[0] ^= 1;
        let mut a3 = a.clone();
        a3[5] ^= 1;
        let frames = [(16, 16, &a[..]), (16, 16, &a2[..]), (16, 16, &a3[..]), (16, 16, &b[..])];
        assert_eq!(codes(&check_duplicates(&frames, &DuplicateRules::default()).0), [ReasonCode::FrozenFrames]);
        assert_eq!(frame_digest(b"abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
