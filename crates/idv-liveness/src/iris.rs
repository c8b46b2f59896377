//! MediaPipe iris model as an eye-openness meter. The face mesh's eyelid points barely move when the eyes
//! close (at 192 px a whole eye is about 20 px wide and the mesh leans on its shape prior: a synthetic closed
//! eye still read EAR 0.217 against 0.228 open), while the iris model, run on a 64x64 crop of each eye, follows
//! the lids (0.36 → 0.20 on the same pictures). Blinks are therefore judged on the iris model's eye contour.

use std::sync::Arc;

use idv_vision::{DecodedImage, Model, TensorView, VisionError};

use crate::error::Result;
use crate::mesh::idx;

const SIDE: usize = 64;
/// Crop side relative to the eye-corner distance (MediaPipe's iris ROI).
const EYE_CROP_SCALE: f32 = 2.3;
/// The first 16 of the 71 eye-contour points follow the face mesh's eye contour: 0..=8 the lower lid from
/// the outer corner to the inner one (mesh 33, 7, 163, 144, 145, 153, 154, 155, 133), 9..=15 the upper lid
/// (246, 161, 160, 159, 158, 157, 173). Checked: mapped back, they land within 1-2 crop pixels of the mesh's.
const EAR_POINTS: [usize; 6] = [0, 11, 13, 8, 5, 3];

/// The iris landmark model.
pub struct Iris {
    model: Arc<dyn Model>,
}

impl Iris {
    pub fn new(model: Arc<dyn Model>) -> Result<Self> {
        if model.input_names() != ["input_1"]
            || !model.output_names().iter().any(|n| n == "output_eyes_contours_and_brows")
        {
            return Err(VisionError::ModelContract {
                model: model.name().to_string(),
                detail: format!(
                    "expected the MediaPipe iris model (input_1 -> output_eyes_contours_and_brows, output_iris), found {:?} -> {:?}",
                    model.input_names(),
                    model.output_names()
                ),
            }
            .into());
        }
        Ok(Self { model })
    }

    /// Eye aspect ratio of each eye (picture-left eye first) from the iris model's lid contour. Open eyes read
    /// about 0.2-0.4 depending on the person; closed eyes about half of their open value or less.
    pub fn eye_openness(&self, img: &DecodedImage, mesh: &[[f32; 3]]) -> Result<[f32; 2]> {
        let mut out = [0.0; 2];
        for (k, ((a, b), flip)) in
            [(idx::EYE_CORNERS_RIGHT, false), (idx::EYE_CORNERS_LEFT, true)].into_iter().enumerate()
        {
            let (pa, pb) = (mesh[a], mesh[b]);
            let centre = [(pa[0] + pb[0]) / 2.0, (pa[1] + pb[1]) / 2.0];
            let side = (pb[0] - pa[0]).hypot(pb[1] - pa[1]) * EYE_CROP_SCALE;
            let angle = (pb[1] - pa[1]).atan2(pb[0] - pa[0]);
            // The model was trained on one eye; the other is mirrored into the same orientation.
            let angle = if flip { angle + std::f32::consts::PI } else { angle };
            let input = sample(img, centre, side, angle, flip);
            let shape = [1, SIDE, SIDE, 3];
            let outs = self.model.run(&[("input_1", TensorView::new(&shape, &input)?)])?;
            let c = outs.get("output_eyes_contours_and_brows")?;
            if c.data.len() != 71 * 3 {
                return Err(VisionError::ModelContract {
                    model: self.model.name().to_string(),
                    detail: format!("eye contour has {} values, expected 213", c.data.len()),
                }
                .into());
            }
            let p = |i: usize| [c.data[3 * i], c.data[3 * i + 1]];
            let d = |i: usize, j: usize| (p(i)[0] - p(j)[0]).hypot(p(i)[1] - p(j)[1]);
            let e = EAR_POINTS;
            out[k] = (d(e[1], e[5]) + d(e[2], e[4])) / (2.0 * d(e[0], e[3]).max(1e-3));
        }
        Ok(out)
    }
}

/// 64x64 RGB crop in 0..1, NHWC, rotated by `angle`, optionally mirrored left-right.
fn sample(img: &DecodedImage, centre: [f32; 2], side: f32, angle: f32, flip: bool) -> Vec<f32> {
    let s = side / SIDE as f32;
    let (c, sn) = (angle.cos(), angle.sin());
    let mut out = vec![0.0f32; SIDE * SIDE * 3];
    for v in 0..SIDE {
        for u in 0..SIDE {
            let du = (u as f32 + 0.5 - SIDE as f32 / 2.0) * s;
            let dv = (v as f32 + 0.5 - SIDE as f32 / 2.0) * s;
            let (du, dv) = if flip { (du, -dv) } else { (du, dv) };
            let x = centre[0] + c * du - sn * dv;
            let y = centre[1] + sn * du + c * dv;
            let px = img.bilinear(x - 0.5, y - 0.5);
            let o = (v * SIDE + u) * 3;
            for ch in 0..3 {
                out[o + ch] = px[ch] / 255.0;
            }
        }
    }
    out
}
