//! Capture fingerprints: what recognises a capture replayed into another transaction after re-encoding,
//! rescaling or a small crop, which the byte digests ([`crate::frame_digest`]) cannot.
//!
//! A fingerprint keeps, for every frame with a face, a 64-bit difference hash (dHash) of a face-relative
//! square (3 inter-ocular distances wide, centred on the mesh) and the measurements the engine already made:
//! head pose, eye openness, mouth opening, face size and face position. Everything is relative to the face or
//! to the session, so a crop (the face moves in the picture) or a rescale changes nothing, and the hash works
//! on 9x8 cell means, which JPEG at quality 70 does not move.
//!
//! The appearance hash alone cannot tell a replay from another genuine session of the same person: the same
//! face under the same light hashes alike whatever the session (measured on one synthetic portrait: median
//! Hamming distance 0-3 between genuine sessions). What a replay cannot change is the *motion*: the sway,
//! the reaction times and the amplitudes of the actions are new in every live session and identical in a
//! copy. So the hashes only find candidates (the store indexes them by bands), and [`distance`] compares the
//! measurement series, frame by frame, at the best of a few frame offsets (a replay may drop leading frames).
//!
//! Of the measurements, [`distance`] uses those whose reading survives re-encoding best relative to how much
//! they differ between live sessions (measured, see [`REPLAY_DISTANCE`]): roll and the face's position (the mean
//! of 468 mesh points moves by hundredths of a pixel when the picture is re-encoded, while a live head sways by
//! pixels). Yaw, pitch, eye openness, mouth and size are stored, not compared: the mesh's per-frame reading of
//! them jitters on a re-encoded copy as much as two live sessions' sway differs.

use crate::observation::FrameObservation;
use crate::verdict::{LivenessVerdict, Reason, ReasonCode};
use idv_vision::DecodedImage;

/// Bytes of one frame in [`CaptureFingerprint::to_bytes`]: the hash and eight `f32` measurements.
const FRAME_BYTES: usize = 8 + 8 * 4;

/// Frame offsets tried when comparing two series: a replay that drops or adds a few leading frames still
/// lines up.
pub const MAX_OFFSET: usize = 3;

/// Fewest frames two series must share at an offset to be compared: a short overlap says nothing.
pub const MIN_OVERLAP: usize = 6;

/// [`distance`] at or under which a capture is a replay of another. Measured on synthetic sessions of one
/// portrait and one challenge without colours (blink + head left, 40 sessions, 780 pairs, 12 replays rescaled
/// ×0.9, cropped 1-4 px and saved at JPEG 70-85; idv-eval's test
/// `reencoded_replays_are_caught_and_genuine_sessions_are_not` runs the first): astronaut, replays at most 0.20 from their source, genuine pairs at least 0.53; obama,
/// replays 0.17-0.38, genuine pairs at least 0.59. The margin is thin (0.38 to 0.53): see the crate README.
pub const REPLAY_DISTANCE: f32 = 0.45;

/// The measurements [`distance`] compares (indices into [`FrameFingerprint::m`] normalised): roll, x, y.
const COMPARED: [usize; 3] = [2, 6, 7];

/// Frames either side averaged before comparing: the sway and the actions last many frames, the measurement
/// jitter one (on astronaut, smoothing over 5 frames took the replays' largest distance from 0.30 to 0.20 and
/// the genuine pairs' smallest from 0.61 to 0.53).
const SMOOTHING: usize = 2;

/// One frame's fingerprint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameFingerprint {
    /// dHash of the face-relative square, for the store's candidate lookup.
    pub hash: u64,
    /// Yaw, pitch, roll (degrees), eye openness, mouth aspect ratio, inter-ocular distance (pixels), face
    /// centre x and y (pixels).
    pub m: [f32; 8],
}

/// A capture's fingerprint, frames in capture order (frames without a face are left out).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CaptureFingerprint {
    pub frames: Vec<FrameFingerprint>,
}

impl CaptureFingerprint {
    /// The fingerprint of analysed frames (`obs[i]` is the analysis of `images[i]`).
    pub fn of(images: &[&DecodedImage], obs: &[FrameObservation]) -> Self {
        let frames = images
            .iter()
            .zip(obs)
            .filter_map(|(img, o)| {
                let f = o.face.as_ref()?;
                let n = f.mesh.len().max(1) as f32;
                let cx = f.mesh.iter().map(|p| p[0]).sum::<f32>() / n;
                let cy = f.mesh.iter().map(|p| p[1]).sum::<f32>() / n;
                let iod = f.measures.iod_px;
                let p = f.measures.pose;
                Some(FrameFingerprint {
                    hash: dhash(img, cx, cy, 3.0 * iod),
                    m: [p.yaw_deg, p.pitch_deg, p.roll_deg, f.measures.eye_openness, f.measures.mar, iod, cx, cy],
                })
            })
            .collect();
        Self { frames }
    }

    /// The frames' hashes, for the store's index.
    pub fn hashes(&self) -> Vec<u64> {
        self.frames.iter().map(|f| f.hash).collect()
    }

    /// A compact byte form for storage (little-endian hash and measurements per frame).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.frames.len() * FRAME_BYTES);
        for f in &self.frames {
            out.extend_from_slice(&f.hash.to_le_bytes());
            for v in f.m {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// The inverse of [`Self::to_bytes`]; `None` when the bytes are not a whole number of frames.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if !b.len().is_multiple_of(FRAME_BYTES) {
            return None;
        }
        let frames = b
            .chunks_exact(FRAME_BYTES)
            .map(|c| {
                let hash = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
                let m = std::array::from_fn(|k| f32::from_le_bytes(c[8 + 4 * k..12 + 4 * k].try_into().expect("4")));
                FrameFingerprint { hash, m }
            })
            .collect();
        Some(Self { frames })
    }
}

/// 64-bit dHash of the grey square of side `side` centred on (cx, cy): 9x8 cell means, one bit per pair of
/// horizontal neighbours (left brighter than right). Cells outside the picture read as black.
fn dhash(img: &DecodedImage, cx: f32, cy: f32, side: f32) -> u64 {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let rgb = img.rgb();
    let (x0, y0) = (cx - side / 2.0, cy - side / 2.0);
    let (cw, ch) = (side / 9.0, side / 8.0);
    let mut cells = [[0f32; 9]; 8];
    // Each cell is sampled on a 4x4 grid: enough to average out JPEG's blocks and noise, cheap at any size.
    for (r, row) in cells.iter_mut().enumerate() {
        for (c, cell) in row.iter_mut().enumerate() {
            let mut sum = 0.0;
            for sy in 0..4 {
                for sx in 0..4 {
                    let x = (x0 + cw * (c as f32 + (sx as f32 + 0.5) / 4.0)) as i64;
                    let y = (y0 + ch * (r as f32 + (sy as f32 + 0.5) / 4.0)) as i64;
                    if x >= 0 && y >= 0 && x < w && y < h {
                        let k = ((y * w + x) * 3) as usize;
                        sum +=
                            0.299 * f32::from(rgb[k]) + 0.587 * f32::from(rgb[k + 1]) + 0.114 * f32::from(rgb[k + 2]);
                    }
                }
            }
            *cell = sum / 16.0;
        }
    }
    let mut hash = 0u64;
    for (r, row) in cells.iter().enumerate() {
        for c in 0..8 {
            if row[c] > row[c + 1] {
                hash |= 1 << (r * 8 + c);
            }
        }
    }
    hash
}

/// The measurement series of a capture made relative to the session (eye openness, mouth and size over their
/// median, the position over the median position in inter-ocular distances) and scaled so that one unit is
/// about what re-encoding moves a measure by: 1° of pose, 0.02 of eye openness or mouth opening, 1% of size,
/// 0.02 inter-ocular distances of position.
fn normalised(f: &CaptureFingerprint) -> Vec<[f32; 8]> {
    let median = |k: usize| {
        let mut v: Vec<f32> = f.frames.iter().map(|x| x.m[k]).collect();
        v.sort_by(f32::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (eye, mar, iod, cx, cy) = (median(3), median(4), median(5).max(1e-3), median(6), median(7));
    f.frames
        .iter()
        .map(|x| {
            let m = x.m;
            [
                m[0],
                m[1],
                m[2],
                (m[3] - eye) / 0.02,
                (m[4] - mar) / 0.02,
                (m[5] / iod).ln() / 0.01,
                (m[6] - cx) / iod / 0.02,
                (m[7] - cy) / iod / 0.02,
            ]
        })
        .collect()
}

/// `s` averaged over [`SMOOTHING`] frames either side.
fn smoothed(s: &[[f32; 8]]) -> Vec<[f32; 8]> {
    (0..s.len())
        .map(|i| {
            let w = &s[i.saturating_sub(SMOOTHING)..(i + SMOOTHING + 1).min(s.len())];
            std::array::from_fn(|k| w.iter().map(|m| m[k]).sum::<f32>() / w.len() as f32)
        })
        .collect()
}

/// How far apart two captures' motions are: the root mean square, over the frames they share, of the
/// differences of the [`COMPARED`] measurements, normalised (see [`normalised`]) and smoothed, at the best of
/// the frame offsets up to [`MAX_OFFSET`] either way. Pose is compared after removing each series' mean, so a
/// replay filmed again at a slight angle lines up. Infinite when the captures share fewer than [`MIN_OVERLAP`]
/// frames.
pub fn distance(a: &CaptureFingerprint, b: &CaptureFingerprint) -> f32 {
    let (na, nb) = (smoothed(&normalised(a)), smoothed(&normalised(b)));
    let mean_pose = |s: &[[f32; 8]], lo: usize, n: usize| -> [f32; 3] {
        std::array::from_fn(|k| s[lo..lo + n].iter().map(|m| m[k]).sum::<f32>() / n.max(1) as f32)
    };
    let mut best = f32::INFINITY;
    for off in -(MAX_OFFSET as i64)..=MAX_OFFSET as i64 {
        let (sa, sb) = if off >= 0 { (off as usize, 0) } else { (0, (-off) as usize) };
        if sa >= na.len() || sb >= nb.len() {
            continue;
        }
        let n = (na.len() - sa).min(nb.len() - sb);
        if n < MIN_OVERLAP {
            continue;
        }
        let (pa, pb) = (mean_pose(&na, sa, n), mean_pose(&nb, sb, n));
        let mut sum = 0.0;
        for i in 0..n {
            let (x, y) = (na[sa + i], nb[sb + i]);
            for k in COMPARED {
                let d = if k < 3 { (x[k] - pa[k]) - (y[k] - pb[k]) } else { x[k] - y[k] };
                sum += d * d;
            }
        }
        best = best.min((sum / (COMPARED.len() * n) as f32).sqrt());
    }
    best
}

/// The verdict of a capture whose nearest registered capture of another transaction is at `nearest`
/// ([`distance`]; infinite when there is none): `verdict` with [`ReasonCode::CaptureReplayed`] first, naming the
/// distance and the threshold, when it is a copy. The engine never sees other sessions: the caller keeps the
/// registry and finds the nearest.
pub fn judge_replay(verdict: LivenessVerdict, nearest: f32) -> LivenessVerdict {
    if nearest > REPLAY_DISTANCE {
        return verdict;
    }
    let mut reasons = verdict.reasons;
    reasons.insert(
        0,
        Reason::new(
            ReasonCode::CaptureReplayed,
            format!(
                "the capture moves as a capture submitted in another transaction did: motion distance {nearest:.2}, \
                 at most {REPLAY_DISTANCE} is a copy"
            ),
        ),
    );
    LivenessVerdict::from_reasons(reasons, verdict.scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(seed: f32, n: usize) -> CaptureFingerprint {
        let frames = (0..n)
            .map(|i| {
                let t = i as f32 * 0.3 + seed;
                FrameFingerprint {
                    hash: i as u64 * 0x9E37_79B9,
                    m: [5.0 * t.sin(), t.cos(), 3.0 * t.sin(), 0.3, 0.1, 100.0 + t.sin(), 200.0 + 5.0 * t.cos(), 300.0],
                }
            })
            .collect();
        CaptureFingerprint { frames }
    }

    #[test]
    fn bytes_round_trip() {
        let f = fp(0.0, 10);
        assert_eq!(CaptureFingerprint::from_bytes(&f.to_bytes()), Some(f));
        assert_eq!(CaptureFingerprint::from_bytes(&[0; 7]), None);
    }

    #[test]
    fn a_copy_is_at_distance_zero_even_shifted_and_another_motion_is_far() {
        let a = fp(0.0, 30);
        assert_eq!(distance(&a, &a), 0.0);
        let shifted = CaptureFingerprint { frames: a.frames[2..].to_vec() };
        // Not zero: the smoothing window is cut short at the first frames, which differ.
        assert!(distance(&a, &shifted) < REPLAY_DISTANCE / 2.0, "{}", distance(&a, &shifted));
        assert!(distance(&a, &fp(1.7, 30)) > REPLAY_DISTANCE, "{}", distance(&a, &fp(1.7, 30)));
        assert_eq!(distance(&a, &fp(0.0, 4)), f32::INFINITY, "too few frames to compare");
    }
}
