//! Colour flash (PHOTINUS-style): the screen shows the issued colours while frames are captured; skin near
//! the screen reflects them, the background (farther away) much less. Per frame the engine measures the mean
//! colour of three skin patches (forehead and both cheeks) and of two background patches beside the head,
//! turns each into chromaticity (`rgb / (r+g+b)`, which cancels exposure changes) and keeps the difference
//! skin − background (which cancels white-balance drift that affects the whole picture). That difference must
//! follow the chromaticity of the colour on screen: their Pearson correlation over the flash frames, best of
//! the lags −1, 0, +1 frames (display and capture latency), must reach [`MIN_COLOUR_CORRELATION`].

use idv_vision::DecodedImage;
use serde::Serialize;

use crate::challenge::ChallengeSpec;
use crate::measure::eye_centres;
use crate::mesh::idx;

/// Correlation at and above which the face follows the flashed colours. Synthetic genuine sessions measured
/// 0.57-0.95 (0.57 with a portrait turned 11°), replays under another colour sequence and photos lit as a
/// whole 0.42-0.54 in the first runs: a narrow margin with 6-8 colours; more colours widen it.
pub const MIN_COLOUR_CORRELATION: f32 = 0.5;
/// Fewer flash frames than this cannot show a sequence was followed.
pub const MIN_FLASH_FRAMES: usize = 4;

/// Mean colours sampled on one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ColourSample {
    /// Mean RGB (0..255) of the skin patches.
    pub skin: [f32; 3],
    /// Mean RGB of the background patches, `None` when they fall outside the picture.
    pub background: Option<[f32; 3]>,
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
        ([q[0] + (q[0] - c[0]) * 0.9, q[1] + (q[1] - c[1]) * 0.9], 0.3 * iod)
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
    ColourSample { skin: disc_mean(img, &skin).unwrap_or([0.0; 3]), background: disc_mean(img, &bg) }
}

fn chroma(c: [f32; 3]) -> [f32; 3] {
    let s = (c[0] + c[1] + c[2]).max(1.0);
    [c[0] / s, c[1] / s, c[2] / s]
}

/// Outcome of the colour check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ColourScore {
    /// Best correlation over the lags tried.
    pub correlation: f32,
    /// Lag (frames) of the best correlation.
    pub lag_frames: i32,
    /// Frames lit by an issued colour at that lag.
    pub flash_frames: usize,
}

/// Correlates the observed chromaticity with the issued colours. `samples[i]` belongs to the frame captured
/// at `t_ms[i]`; `None` where no face was measured.
pub fn correlate(spec: &ChallengeSpec, t_ms: &[u32], samples: &[Option<ColourSample>]) -> Option<ColourScore> {
    let t0 = *t_ms.first()?;
    let mut best: Option<ColourScore> = None;
    for lag in [0i32, -1, 1] {
        let shift = lag as i64 * i64::from(spec.frame_interval_ms);
        let mut obs = Vec::new();
        let mut exp = Vec::new();
        for (t, s) in t_ms.iter().zip(samples) {
            let Some(s) = s else { continue };
            let t_shift = i64::from(*t) - shift;
            let Some(colour) = u32::try_from(t_shift).ok().and_then(|ts| spec.colour_at(t0, ts)) else { continue };
            let skin = chroma(s.skin);
            let o = match s.background {
                Some(b) => {
                    let b = chroma(b);
                    [skin[0] - b[0], skin[1] - b[1], skin[2] - b[2]]
                }
                None => skin,
            };
            obs.push(o);
            exp.push(chroma(colour.map(f32::from)));
        }
        if obs.len() < MIN_FLASH_FRAMES {
            continue;
        }
        let corr = pearson3(&obs, &exp);

        let score = ColourScore { correlation: corr, lag_frames: lag, flash_frames: obs.len() };
        if best.is_none_or(|b| corr > b.correlation) {
            best = Some(score);
        }
    }
    best
}

/// Pearson correlation of two series of 3-vectors, each centred per channel, pooled over channels.
fn pearson3(a: &[[f32; 3]], b: &[[f32; 3]]) -> f32 {
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
    if saa <= 1e-18 || sbb <= 1e-18 { 0.0 } else { (sab / (saa * sbb).sqrt()) as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::Action;

    fn spec(colours: Vec<[u8; 3]>) -> ChallengeSpec {
        ChallengeSpec { actions: vec![Action::Blink], colours, frame_interval_ms: 100, action_window_ms: 3000 }
    }

    #[test]
    fn follows_the_sequence_with_one_frame_of_latency_and_not_another_one() {
        let colours = vec![[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]];
        let s = spec(colours.clone());
        let t: Vec<u32> = (0..10).map(|i| 20 + i * 100).collect();
        // The face shows colour i at frame i+1 (one frame late), on a constant background.
        let lit = |c: Option<&[u8; 3]>| {
            let c = c.map_or([0.0; 3], |c| c.map(|v| f32::from(v) / 255.0));
            Some(ColourSample {
                skin: [150.0 * (1.0 + 0.2 * c[0]), 110.0 * (1.0 + 0.2 * c[1]), 90.0 * (1.0 + 0.2 * c[2])],
                background: Some([80.0; 3]),
            })
        };
        let samples: Vec<_> = (0..10).map(|i| lit(if i == 0 { None } else { colours.get(i - 1) })).collect();
        let score = correlate(&s, &t, &samples).unwrap();

        assert!(score.correlation > 0.9 && score.lag_frames == 1, "{score:?}");
        let other = spec(vec![[0, 255, 0], [0, 0, 255], [0, 255, 255], [255, 0, 0], [255, 0, 255], [255, 255, 0]]);
        let wrong = correlate(&other, &t, &samples).unwrap();
        assert!(wrong.correlation < MIN_COLOUR_CORRELATION, "{wrong:?}");
    }
}
