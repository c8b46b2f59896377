//! Colour flash (PHOTINUS-style): the screen shows the issued colours while frames are captured; skin near
//! the screen reflects them, the background (farther away) much less. Per frame the engine measures the mean
//! colour of three skin patches (forehead and both cheeks) and of two background patches beside the head,
//! turns each into chromaticity (`rgb / (r+g+b)`, which cancels exposure changes) and keeps the difference
//! skin − background (which cancels white-balance drift that affects the whole picture). That difference must
//! follow the chromaticity of the colour on screen: each colour is held for [`COLOUR_MS`], the settled frames
//! of each colour are averaged, and the Pearson correlation of those means with the colours, at a latency of
//! 0 or one frame, must reach [`MIN_COLOUR_CORRELATION`].

use idv_vision::DecodedImage;
use serde::Serialize;

use crate::challenge::ChallengeSpec;
use crate::measure::eye_centres;
use crate::mesh::idx;

/// Correlation at and above which the face follows the flashed colours. Two independent sequences of
/// [`SEQUENCE_LEN`] colours (what a replay under a new challenge shows) reach it by chance about 0.2% of the
/// time (`chance_match_rate` test); the measurements on synthetic sessions are in the crate README.
pub const MIN_COLOUR_CORRELATION: f32 = 0.7;
/// The surroundings beside the head may follow the colours with at most this share of the skin's gain: the
/// screen lights the face, a hand-width away, far more than a wall behind the user; a photo or a screen held
/// in front of the camera is lit as a whole.
pub const MAX_BACKGROUND_SHARE: f32 = 0.65;
/// Fewer colours seen than this cannot show a sequence was followed.
pub const MIN_FLASH_SEGMENTS: usize = 5;
/// Colours per challenge: the chance that another sequence correlates falls fast with the length (0.4% at 8,
/// 0.16% at 10, 0.02% at 12 for the threshold above), the time the user holds still grows with it.
pub const SEQUENCE_LEN: usize = 10;
/// How long each colour stays on screen: three frames at 10 frames a second, so at least one frame per colour
/// is captured away from the colour changes whatever the latency.
pub const COLOUR_MS: u32 = 300;
/// Saturated screen colours; white is left out (the screen is white outside the sequence).
pub const PALETTE: [[u8; 3]; 6] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]];

/// Mean colours sampled on one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ColourSample {
    /// Mean RGB (0..255) of the skin patches.
    pub skin: [f32; 3],
    /// Mean RGB of the surroundings: beside the head on the picture's left and right, and the picture's top
    /// left and top right corners (farther from the face when the head fills the frame); `None` where a patch
    /// falls outside the picture.
    pub background: [Option<[f32; 3]>; 4],
}

/// Where the patches are, relative to the mesh: (centre, radius) in picture pixels.
/// A disc: centre and radius in picture pixels.
pub type Disc = ([f32; 2], f32);

pub fn patches(mesh: &[[f32; 3]], iod: f32) -> (Vec<Disc>, Vec<Disc>) {
    let [el, er] = eye_centres(mesh);
    let mid = [(el[0] + er[0]) / 2.0, (el[1] + er[1]) / 2.0];
    let p = |i: usize| [mesh[i][0], mesh[i][1]];
    let lerp = |a: [f32; 2], b: [f32; 2], t: f32| [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
    let forehead = lerp(mid, p(idx::FOREHEAD), 0.6);
    let (ml, mr) = (p(idx::MOUTH_CORNERS.0), p(idx::MOUTH_CORNERS.1));
    let cheek_l = lerp(lerp(el, ml, 0.5), el, -0.15);
    let cheek_r = lerp(lerp(er, mr, 0.5), er, -0.15);
    let skin = vec![(forehead, 0.28 * iod), (cheek_l, 0.22 * iod), (cheek_r, 0.22 * iod)];
    let c = p(idx::NOSE_TIP);
    let side = |i: usize| {
        let q = p(i);
        ([q[0] + (q[0] - c[0]) * 1.6, q[1] + (q[1] - c[1]) * 1.6], 0.3 * iod)
    };
    (skin, vec![side(234), side(454)])
}

fn disc_mean(img: &DecodedImage, discs: &[Disc]) -> Option<[f32; 3]> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let rgb = img.rgb();
    let (mut acc, mut n) = ([0.0f64; 3], 0usize);
    for &([cx, cy], r) in discs {
        let r = r.max(1.0);
        let (x0, x1) = (((cx - r).floor() as i64).max(0), ((cx + r).ceil() as i64).min(w - 1));
        let (y0, y1) = (((cy - r).floor() as i64).max(0), ((cy + r).ceil() as i64).min(h - 1));
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                if dx * dx + dy * dy <= r * r {
                    let i = ((y * w + x) * 3) as usize;
                    for c in 0..3 {
                        acc[c] += f64::from(rgb[i + c]);
                    }
                    n += 1;
                }
            }
        }
    }
    (n >= 8).then(|| acc.map(|v| (v / n as f64) as f32))
}

/// Samples the skin and background colours of a frame.
pub fn sample(img: &DecodedImage, mesh: &[[f32; 3]], iod: f32) -> ColourSample {
    let (skin, bg) = patches(mesh, iod);
    let (w, h) = (img.width() as f32, img.height() as f32);
    let r = 0.06 * w.min(h);
    let corner = |x: f32| disc_mean(img, &[([x, 1.5 * r], r)]);
    ColourSample {
        skin: disc_mean(img, &skin).unwrap_or([0.0; 3]),
        background: [disc_mean(img, &bg[..1]), disc_mean(img, &bg[1..]), corner(1.5 * r), corner(w - 1.5 * r)],
    }
}

fn chroma(c: [f32; 3]) -> [f32; 3] {
    let s = (c[0] + c[1] + c[2]).max(1.0);
    [c[0] / s, c[1] / s, c[2] / s]
}

/// Outcome of the colour check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ColourScore {
    /// Correlation of the skin's chromaticity with the colours, at the better of the latencies tried.
    pub correlation: f32,
    /// How strongly the skin's chromaticity follows the colours' (least-squares slope).
    pub skin_gain: f32,
    /// The same for the surroundings: the patch that follows the colours least (a turned head brings its hair
    /// and ear, lit like the face, into one side's patch; a picture held before the camera is lit all over).
    /// `None` when no patch is in the picture on every colour.
    pub background_gain: Option<f32>,
    /// Display-to-capture latency assumed, milliseconds.
    pub lag_ms: u32,
    /// Colours (segments of the sequence) seen on at least one settled frame at that latency.
    pub segments: usize,
}

impl ColourScore {
    /// The surroundings respond as much as the face: a picture held close to the screen, lit as a whole.
    pub fn lit_as_a_whole(&self) -> bool {
        self.background_gain.is_some_and(|b| b > MAX_BACKGROUND_SHARE * self.skin_gain.max(0.0))
    }
}

/// Correlates the observed chromaticity with the issued colours. `samples[i]` belongs to the frame captured
/// at `t_ms[i]`; `None` where no face was measured.
///
/// Colour `i` is on screen for `colour_ms` from `t0 + i·colour_ms`. A frame is used for colour `i` only when
/// it was captured well inside that colour's time, shifted by the latency tried (0 or one frame interval:
/// the screen and the camera each lag a little), at least half a frame interval from either edge, so a
/// frame exposed across a colour change never counts. The frames of a colour are averaged (sensor noise
/// cancels), and the per-colour means of the skin are correlated with the colours' chromaticities. The
/// background is not subtracted frame by frame: dark or textured surroundings make its chromaticity noisy,
/// which drowned the skin's signal on a turned portrait (correlation 0.59 instead of 0.9); its gain is
/// compared with the skin's instead.
pub fn correlate(spec: &ChallengeSpec, t_ms: &[u32], samples: &[Option<ColourSample>]) -> Option<ColourScore> {
    let t0 = *t_ms.first()?;
    let c_ms = spec.colour_ms.max(1);
    let margin = (spec.frame_interval_ms / 2).min(c_ms / 4);
    let mut best: Option<ColourScore> = None;
    for lag in [0, spec.frame_interval_ms] {
        #[derive(Clone, Copy, Default)]
        struct Acc {
            skin: [f32; 3],
            n: usize,
            bg: [[f32; 3]; 4],
            n_bg: [usize; 4],
        }
        let mut sums = vec![Acc::default(); spec.colours.len()];
        for (t, s) in t_ms.iter().zip(samples) {
            let Some(s) = s else { continue };
            let Some(rel) = t.checked_sub(t0 + lag) else { continue };
            let (seg, within) = ((rel / c_ms) as usize, rel % c_ms);
            if seg >= sums.len() || within < margin || within > c_ms - margin {
                continue;
            }
            let acc = &mut sums[seg];
            for (a, v) in acc.skin.iter_mut().zip(chroma(s.skin)) {
                *a += v;
            }
            acc.n += 1;
            for (side, b) in s.background.iter().enumerate() {
                if let Some(b) = b {
                    for (a, v) in acc.bg[side].iter_mut().zip(chroma(*b)) {
                        *a += v;
                    }
                    acc.n_bg[side] += 1;
                }
            }
        }
        let seen: Vec<(&Acc, [f32; 3])> = sums
            .iter()
            .zip(&spec.colours)
            .filter(|(a, _)| a.n > 0)
            .map(|(a, c)| (a, chroma(c.map(f32::from))))
            .collect();
        if seen.len() < MIN_FLASH_SEGMENTS.max(spec.colours.len() * 2 / 3) {
            continue;
        }
        let exp: Vec<[f32; 3]> = seen.iter().map(|(_, e)| *e).collect();
        let skin: Vec<[f32; 3]> = seen.iter().map(|(a, _)| a.skin.map(|v| v / a.n as f32)).collect();
        let corr = pearson3(&skin, &exp);
        let background_gain = (0..4)
            .filter(|&side| seen.iter().all(|(a, _)| a.n_bg[side] > 0))
            .map(|side| {
                let bg: Vec<[f32; 3]> = seen.iter().map(|(a, _)| a.bg[side].map(|v| v / a.n_bg[side] as f32)).collect();
                slope3(&bg, &exp)
            })
            .min_by(f32::total_cmp);
        let score = ColourScore {
            correlation: corr,
            skin_gain: slope3(&skin, &exp),
            background_gain,
            lag_ms: lag,
            segments: seen.len(),
        };
        if best.is_none_or(|b| corr > b.correlation) {
            best = Some(score);
        }
    }
    best
}

/// A random colour sequence of `n` colours from [`PALETTE`], no colour twice in a row. `next` is the caller's
/// random source (the server's CSPRNG, the generator's seeded one).
pub fn colour_sequence(n: usize, mut next: impl FnMut() -> u64) -> Vec<[u8; 3]> {
    let mut seq: Vec<[u8; 3]> = Vec::with_capacity(n);
    while seq.len() < n {
        let c = PALETTE[(next() % PALETTE.len() as u64) as usize];
        if seq.last() != Some(&c) {
            seq.push(c);
        }
    }
    seq
}

/// Least-squares slope of `a` on `b` (each centred per channel, pooled over channels): how much `a` moves per
/// unit of `b`.
fn slope3(a: &[[f32; 3]], b: &[[f32; 3]]) -> f32 {
    let (sab, _, sbb) = centred_moments(a, b);
    if sbb <= 1e-18 { 0.0 } else { (sab / sbb) as f32 }
}

/// Pearson correlation of two series of 3-vectors, each centred per channel, pooled over channels.
fn pearson3(a: &[[f32; 3]], b: &[[f32; 3]]) -> f32 {
    let (sab, saa, sbb) = centred_moments(a, b);
    if saa <= 1e-18 || sbb <= 1e-18 { 0.0 } else { (sab / (saa * sbb).sqrt()) as f32 }
}

/// Σ ab, Σ aa, Σ bb of the per-channel centred series.
fn centred_moments(a: &[[f32; 3]], b: &[[f32; 3]]) -> (f64, f64, f64) {
    let n = a.len() as f64;
    let mean = |s: &[[f32; 3]]| {
        let mut m = [0.0f64; 3];
        for v in s {
            for c in 0..3 {
                m[c] += f64::from(v[c]) / n;
            }
        }
        m
    };
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        for c in 0..3 {
            let (dx, dy) = (f64::from(x[c]) - ma[c], f64::from(y[c]) - mb[c]);
            sab += dx * dy;
            saa += dx * dx;
            sbb += dy * dy;
        }
    }
    (sab, saa, sbb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::Action;

    fn spec(colours: Vec<[u8; 3]>) -> ChallengeSpec {
        ChallengeSpec {
            actions: vec![Action::Blink],
            cues_ms: vec![1000],
            colours,
            colour_ms: COLOUR_MS,
            frame_interval_ms: 100,
            action_window_ms: 3000,
        }
    }

    /// A face lit by whatever colour `shown(t)` returns, on a constant background, with a little noise.
    fn lit(c: Option<[u8; 3]>, noise: f32) -> Option<ColourSample> {
        let c = c.map_or([1.0; 3], |c| c.map(|v| f32::from(v) / 255.0));
        Some(ColourSample {
            skin: [150.0 * (1.0 + 0.2 * c[0]) + noise, 110.0 * (1.0 + 0.2 * c[1]) - noise, 90.0 * (1.0 + 0.2 * c[2])],
            background: [Some([80.0; 3]), None, None, None],
        })
    }

    fn lcg(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x >> 17
        }
    }

    #[test]
    fn follows_the_sequence_at_either_latency_and_not_another_sequence() {
        let mut rng = lcg(7);
        for latency in [0u32, 40, 90, 140] {
            let colours = colour_sequence(SEQUENCE_LEN, &mut rng);
            let s = spec(colours.clone());
            let t: Vec<u32> = (0..36).map(|i| 20 + i * 100 + (i * 37 % 17)).collect();
            let t0 = t[0];
            let samples: Vec<_> = t
                .iter()
                .enumerate()
                .map(|(i, &ti)| lit(ti.checked_sub(latency).and_then(|x| s.colour_at(t0, x)), (i % 3) as f32))
                .collect();
            let score = correlate(&s, &t, &samples).unwrap();
            assert!(score.correlation > 0.9 && score.segments >= 8, "latency {latency}: {score:?}");
            let other = spec(colour_sequence(SEQUENCE_LEN, &mut rng));
            let wrong = correlate(&other, &t, &samples).unwrap();
            assert!(wrong.correlation < score.correlation - 0.2, "latency {latency}: {wrong:?}");
        }
    }

    #[test]
    fn a_picture_lit_as_a_whole_is_told_from_a_face_before_a_far_wall() {
        let s = spec(colour_sequence(SEQUENCE_LEN, lcg(11)));
        let t: Vec<u32> = (0..34).map(|i| i * 100 + 10).collect();
        let tint = |c: Option<[u8; 3]>, base: [f32; 3], k: f32| {
            let c = c.map_or([1.0; 3], |c| c.map(|v| f32::from(v) / 255.0));
            [base[0] * (1.0 + k * c[0]), base[1] * (1.0 + k * c[1]), base[2] * (1.0 + k * c[2])]
        };
        let frames = |bg_k: f32| -> Vec<Option<ColourSample>> {
            t.iter()
                .map(|&ti| {
                    let c = s.colour_at(10, ti);
                    Some(ColourSample {
                        skin: tint(c, [150.0, 110.0, 90.0], 0.2),
                        background: [Some(tint(c, [90.0; 3], bg_k)), None, None, None],
                    })
                })
                .collect()
        };
        let live = correlate(&s, &t, &frames(0.02)).unwrap();
        let photo = correlate(&s, &t, &frames(0.2)).unwrap();
        assert!(live.correlation > 0.95 && !live.lit_as_a_whole(), "{live:?}");
        assert!(photo.correlation > 0.95 && photo.lit_as_a_whole(), "{photo:?}");
    }

    #[test]
    fn too_few_colours_seen_is_no_score() {
        let s = spec(colour_sequence(SEQUENCE_LEN, lcg(3)));
        let t: Vec<u32> = (0..10).map(|i| i * 100).collect();
        let samples: Vec<_> = t.iter().map(|&ti| lit(s.colour_at(0, ti), 0.0)).collect();
        assert_eq!(correlate(&s, &t, &samples), None, "1 s of frames sees at most 4 of 10 colours");
    }

    /// The design margin behind [`MIN_COLOUR_CORRELATION`] and [`SEQUENCE_LEN`]: frames that followed one
    /// random sequence perfectly, scored against another (a replay under a new challenge), pass this often.
    #[test]
    fn chance_match_rate_of_independent_sequences_is_small() {
        let mut rng = lcg(2026);
        let t: Vec<u32> = (0..32).map(|i| i * 100 + 10).collect();
        let trials = 4000;
        let mut accepted = 0;
        for _ in 0..trials {
            let shown = spec(colour_sequence(SEQUENCE_LEN, &mut rng));
            let samples: Vec<_> = t.iter().map(|&ti| lit(shown.colour_at(10, ti), 0.0)).collect();
            let asked = spec(colour_sequence(SEQUENCE_LEN, &mut rng));
            if correlate(&asked, &t, &samples).is_some_and(|c| c.correlation >= MIN_COLOUR_CORRELATION) {
                accepted += 1;
            }
        }
        let rate = accepted as f64 / trials as f64;
        assert!(rate < 0.01, "{accepted}/{trials} random sequences matched");
        eprintln!("chance match rate {rate:.4} ({accepted}/{trials})");
    }
}
