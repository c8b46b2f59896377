//! MediaPipe face mesh (468 points) on the crop the detector gives: a square 1.5x the YuNet box, rotated so
//! the eyes are level, resampled to 192x192 RGB in 0..1 (NHWC); the points are mapped back to picture pixels.

use std::sync::Arc;

use idv_face::Detection;
use idv_vision::{DecodedImage, Model, TensorView, VisionError};

use crate::error::Result;

/// Side of the face mesh input.
pub const MESH_INPUT: usize = 192;
/// Points the mesh returns.
pub const MESH_POINTS: usize = 468;
/// Crop side relative to the larger side of the YuNet box (MediaPipe's detection-to-ROI scale).
pub const CROP_SCALE: f32 = 1.5;

/// Landmark indices of the MediaPipe topology used by the measures and the synthetic generator.
pub mod idx {
    /// Eye-aspect-ratio points p1..p6 (corner, upper, upper, corner, lower, lower) of the eye on the
    /// picture's left (the subject's right eye), then of the other eye.
    pub const EAR_RIGHT: [usize; 6] = [33, 160, 158, 133, 153, 144];
    pub const EAR_LEFT: [usize; 6] = [362, 385, 387, 263, 373, 380];
    /// Eyelid contours, upper lid paired with the lower-lid point below it, corner to corner.
    pub const LID_PAIRS_RIGHT: [(usize, usize); 7] =
        [(246, 7), (161, 163), (160, 144), (159, 145), (158, 153), (157, 154), (173, 155)];
    pub const LID_PAIRS_LEFT: [(usize, usize); 7] =
        [(466, 249), (388, 390), (387, 373), (386, 374), (385, 380), (384, 381), (398, 382)];
    pub const EYE_CORNERS_RIGHT: (usize, usize) = (33, 133);
    pub const EYE_CORNERS_LEFT: (usize, usize) = (362, 263);
    /// Inner lip contour: upper lip from corner to corner, then lower lip.
    pub const INNER_LIP_UPPER: [usize; 11] = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308];
    pub const INNER_LIP_LOWER: [usize; 11] = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308];
    pub const MOUTH_CORNERS: (usize, usize) = (61, 291);
    pub const LIP_INNER_MID: (usize, usize) = (13, 14);
    /// Face oval, clockwise from the top of the forehead.
    pub const FACE_OVAL: [usize; 36] = [
        10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149,
        150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
    ];
    /// Mirror pairs (picture-left point, picture-right point) on rigid parts of the face (eye corners, nose
    /// wings, the oval above the jaw); checked on frontal portraits to mirror within 0.03-0.08 eye distances.
    pub const SYMMETRIC_PAIRS: [(usize, usize); 14] = [
        (33, 263),
        (133, 362),
        (98, 327),
        (234, 454),
        (127, 356),
        (93, 323),
        (109, 338),
        (67, 297),
        (103, 332),
        (54, 284),
        (21, 251),
        (162, 389),
        (70, 300),
        (105, 334),
    ];
    /// Midline points that do not move with the mouth: forehead top and the base of the nose.
    pub const FOREHEAD: usize = 10;
    pub const NOSE_BASE: usize = 2;
    pub const NOSE_TIP: usize = 1;
}

/// The rotated square crop fed to the mesh, in picture coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crop {
    pub centre: [f32; 2],
    /// Side in picture pixels.
    pub side: f32,
    /// Angle of the crop's x axis in the picture (radians, clockwise positive since y points down).
    pub angle: f32,
}

impl Crop {
    /// MediaPipe's detection-to-ROI rule on YuNet's output: the box centre, 1.5x the larger side, rotated by
    /// the angle of the line through the two eye landmarks.
    pub fn from_detection(d: &Detection) -> Self {
        let [l, r, ..] = d.landmarks;
        Self {
            centre: [d.bbox.x + d.bbox.width / 2.0, d.bbox.y + d.bbox.height / 2.0],
            side: d.bbox.width.max(d.bbox.height) * CROP_SCALE,
            angle: (r[1] - l[1]).atan2(r[0] - l[0]),
        }
    }

    /// Picture coordinates of crop coordinates (`u`, `v` in 0..192).
    pub fn to_picture(&self, u: f32, v: f32) -> [f32; 2] {
        self.mapping().apply(u, v)
    }

    fn mapping(&self) -> CropMapping {
        CropMapping {
            scale: self.side / MESH_INPUT as f32,
            cos: self.angle.cos(),
            sin: self.angle.sin(),
            centre: self.centre,
        }
    }
}

/// [`Crop::to_picture`] with the rotation's sine and cosine computed once: resampling a crop maps up to
/// 192² × 16 points, and two trigonometric calls per point cost more than the bilinear samples themselves.
struct CropMapping {
    scale: f32,
    cos: f32,
    sin: f32,
    centre: [f32; 2],
}

impl CropMapping {
    fn apply(&self, u: f32, v: f32) -> [f32; 2] {
        let (dx, dy) = ((u - MESH_INPUT as f32 / 2.0) * self.scale, (v - MESH_INPUT as f32 / 2.0) * self.scale);
        [self.centre[0] + self.cos * dx - self.sin * dy, self.centre[1] + self.sin * dx + self.cos * dy]
    }
}

/// 468 points in picture pixels; `z` is depth in the same unit, negative towards the camera, relative to
/// the face's centre (the mesh model's convention).
pub type Mesh = Vec<[f32; 3]>;

/// One mesh inference.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshResult {
    pub points: Mesh,
    /// Sigmoid of the model's face-presence logit.
    pub presence: f32,
    pub crop: Crop,
}

/// The face mesh model.
pub struct FaceMesh {
    model: Arc<dyn Model>,
    points_out: String,
    presence_out: String,
}

impl FaceMesh {
    pub fn new(model: Arc<dyn Model>) -> Result<Self> {
        let outs = model.output_names().to_vec();
        if model.input_names() != ["input_1"] || outs.len() != 2 {
            return Err(VisionError::ModelContract {
                model: model.name().to_string(),
                detail: format!(
                    "expected the MediaPipe face mesh (input_1 -> landmarks, presence), found {:?} -> {outs:?}",
                    model.input_names()
                ),
            }
            .into());
        }
        // Output names come from the TFLite conversion (conv2d_20: landmarks, conv2d_30: presence); the sizes
        // are checked at run time.
        Ok(Self { model, points_out: outs[0].clone(), presence_out: outs[1].clone() })
    }

    /// Runs the mesh on the crop around `crop`.
    pub fn run(&self, img: &DecodedImage, crop: Crop) -> Result<MeshResult> {
        let input = sample_crop(img, &crop);
        let shape = [1, MESH_INPUT, MESH_INPUT, 3];
        let out = self.model.run(&[("input_1", TensorView::new(&shape, &input)?)])?;
        let (pts, pres) = (out.get(&self.points_out)?, out.get(&self.presence_out)?);
        if pts.data.len() != MESH_POINTS * 3 || pres.data.len() != 1 {
            return Err(VisionError::ModelContract {
                model: self.model.name().to_string(),
                detail: format!("outputs have {} and {} values, expected 1404 and 1", pts.data.len(), pres.data.len()),
            }
            .into());
        }
        let s = crop.side / MESH_INPUT as f32;
        let map = crop.mapping();
        let points = pts
            .data
            .chunks_exact(3)
            .map(|p| {
                let [x, y] = map.apply(p[0], p[1]);
                [x, y, p[2] * s]
            })
            .collect();
        Ok(MeshResult { points, presence: 1.0 / (1.0 + (-pres.data[0]).exp()), crop })
    }
}

/// Bilinear resampling of the rotated crop into 192x192 RGB floats in 0..1, NHWC. When the crop is larger
/// than the input, each output pixel averages an n x n grid of samples so a large face is not aliased;
/// outside the picture the input is black, as MediaPipe pads.
fn sample_crop(img: &DecodedImage, crop: &Crop) -> Vec<f32> {
    let s = crop.side / MESH_INPUT as f32;
    let n = (s.ceil() as usize).clamp(1, 4);
    let mut out = vec![0.0f32; MESH_INPUT * MESH_INPUT * 3];
    let inv = 1.0 / (n * n) as f32 / 255.0;
    let map = crop.mapping();
    for v in 0..MESH_INPUT {
        for u in 0..MESH_INPUT {
            let mut acc = [0.0f32; 3];
            for sy in 0..n {
                for sx in 0..n {
                    let (uu, vv) = (u as f32 + (sx as f32 + 0.5) / n as f32, v as f32 + (sy as f32 + 0.5) / n as f32);
                    let [x, y] = map.apply(uu, vv);
                    let px = img.bilinear(x - 0.5, y - 0.5);
                    for c in 0..3 {
                        acc[c] += px[c];
                    }
                }
            }
            let o = (v * MESH_INPUT + u) * 3;
            for c in 0..3 {
                out[o + c] = acc[c] * inv;
            }
        }
    }
    out
}
