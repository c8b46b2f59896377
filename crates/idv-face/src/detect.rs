//! YuNet (2023mar) face detection: scale the picture so its longer side is 640, pad it to multiples of 32 (the
//! picture's own aspect, as OpenCV's `FaceDetectorYN` feeds it, not a 640x640 square: a 4:3 picture costs a
//! quarter less), decode the three output scales, non-maximum suppression, and mapping back to the picture's
//! coordinates.

use std::path::Path;
use std::sync::Arc;

use idv_vision::{DecodedImage, InferenceBackend, Model, ModelOptions, TensorView, VisionError};
use serde::Serialize;

use crate::error::Result;

/// The longer side of YuNet's input; the file declares 640x640, but its graph takes any multiple of 32 (loaded
/// with [`ModelOptions::any_input_size`]).
pub const YUNET_INPUT: u32 = 640;
const STRIDES: [usize; 3] = [8, 16, 32];
/// Input sides are padded up to a multiple of the coarsest stride.
const ALIGN: u32 = 32;

/// Axis-aligned face box in picture pixels (may extend past the picture's edges for cut-off faces).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundingBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl BoundingBox {
    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.width).min(other.x + other.width);
        let y1 = (self.y + self.height).min(other.y + other.height);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// The five YuNet landmarks in picture pixels, in the model's order: the eye on the picture's left (the
/// subject's right eye), the other eye, the nose tip, the mouth corner on the picture's left, the other
/// mouth corner.
pub type Landmarks = [[f32; 2]; 5];

/// One detected face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Detection {
    pub bbox: BoundingBox,
    pub landmarks: Landmarks,
    /// sqrt(cls * obj), in 0..1.
    pub score: f32,
}

impl Detection {
    /// Distance between the two eye landmarks, in pixels.
    pub fn inter_eye_distance(&self) -> f32 {
        let [l, r, ..] = self.landmarks;
        (r[0] - l[0]).hypot(r[1] - l[1])
    }
}

/// Detector settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DetectorConfig {
    /// Minimum sqrt(cls * obj) score of a face.
    pub score_threshold: f32,
    /// Boxes overlapping a better one by more than this IoU are dropped.
    pub nms_threshold: f32,
    /// At most this many faces are returned (best first).
    pub top_k: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self { score_threshold: DEFAULT_SCORE_THRESHOLD, nms_threshold: 0.3, top_k: 50 }
    }
}

/// See the crate documentation ("Detection threshold") for the measurements behind this value.
pub const DEFAULT_SCORE_THRESHOLD: f32 = 0.75;

/// The YuNet detector over an inference [`Model`].
pub struct YuNet {
    model: Arc<dyn Model>,
}

/// The network input and the factors mapping network coordinates back to the picture.
struct Letterbox {
    tensor: Vec<f32>,
    width: usize,
    height: usize,
    scale_x: f32,
    scale_y: f32,
}

impl YuNet {
    /// Loads YuNet through `backend` with `options`, free to take inputs of the picture's aspect.
    pub fn load(backend: &dyn InferenceBackend, path: &Path, options: &ModelOptions) -> Result<Self> {
        Self::new(backend.load(path, &ModelOptions { any_input_size: true, ..*options })?)
    }

    /// Wraps a loaded YuNet model after checking its input and outputs.
    pub fn new(model: Arc<dyn Model>) -> Result<Self> {
        let mut expected = vec!["input".to_string()];
        let outputs: Vec<String> = ["cls", "obj", "bbox", "kps"]
            .iter()
            .flat_map(|k| STRIDES.iter().map(move |s| format!("{k}_{s}")))
            .collect();
        if model.input_names() != expected.as_slice() || !outputs.iter().all(|o| model.output_names().contains(o)) {
            expected.extend(outputs);
            return Err(VisionError::ModelContract {
                model: model.name().to_string(),
                detail: format!(
                    "expected YuNet 2023mar tensors {expected:?}, found inputs {:?} outputs {:?}",
                    model.input_names(),
                    model.output_names()
                ),
            }
            .into());
        }
        Ok(Self { model })
    }

    /// Detects faces, best score first.
    pub fn detect(&self, img: &DecodedImage, config: &DetectorConfig) -> Result<Vec<Detection>> {
        let lb = letterbox(img)?;
        let shape = [1, 3, lb.height, lb.width];
        let outputs = self.model.run(&[("input", TensorView::new(&shape, &lb.tensor)?)])?;
        let mut faces = Vec::new();
        for stride in STRIDES {
            let get = |kind: &str| outputs.get(&format!("{kind}_{stride}"));
            let (cls, obj, bbox, kps) = (get("cls")?, get("obj")?, get("bbox")?, get("kps")?);
            let cols = lb.width / stride;
            let cells = cols * (lb.height / stride);
            if cls.data.len() != cells
                || obj.data.len() != cells
                || bbox.data.len() != cells * 4
                || kps.data.len() != cells * 10
            {
                return Err(VisionError::ModelContract {
                    model: self.model.name().to_string(),
                    detail: format!("unexpected output sizes at stride {stride}"),
                }
                .into());
            }
            decode_stride(stride, cols, cls, obj, bbox, kps, config, &lb, &mut faces);
        }
        Ok(nms(faces, config))
    }
}

#[allow(clippy::too_many_arguments)]
fn decode_stride(
    stride: usize,
    cols: usize,
    cls: &idv_vision::Tensor,
    obj: &idv_vision::Tensor,
    bbox: &idv_vision::Tensor,
    kps: &idv_vision::Tensor,
    config: &DetectorConfig,
    lb: &Letterbox,
    out: &mut Vec<Detection>,
) {
    let s = stride as f32;
    for idx in 0..cls.data.len() {
        let score = (cls.data[idx].clamp(0.0, 1.0) * obj.data[idx].clamp(0.0, 1.0)).sqrt();
        if score < config.score_threshold {
            continue;
        }
        let (r, c) = ((idx / cols) as f32, (idx % cols) as f32);
        let b = &bbox.data[idx * 4..idx * 4 + 4];
        let cx = (c + b[0]) * s;
        let cy = (r + b[1]) * s;
        let w = b[2].exp() * s;
        let h = b[3].exp() * s;
        let k = &kps.data[idx * 10..idx * 10 + 10];
        let mut landmarks = [[0.0f32; 2]; 5];
        for (n, lm) in landmarks.iter_mut().enumerate() {
            *lm = [(k[2 * n] + c) * s / lb.scale_x, (k[2 * n + 1] + r) * s / lb.scale_y];
        }
        out.push(Detection {
            bbox: BoundingBox {
                x: (cx - w / 2.0) / lb.scale_x,
                y: (cy - h / 2.0) / lb.scale_y,
                width: w / lb.scale_x,
                height: h / lb.scale_y,
            },
            landmarks,
            score,
        });
    }
}

fn nms(mut faces: Vec<Detection>, config: &DetectorConfig) -> Vec<Detection> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for f in faces {
        if kept.len() >= config.top_k {
            break;
        }
        if kept.iter().all(|k| k.bbox.iou(&f.bbox) <= config.nms_threshold) {
            kept.push(f);
        }
    }
    kept
}

/// Scales the picture so its longer side is 640 (up or down), pads right/bottom with black to multiples of 32,
/// and lays it out as planar BGR floats in 0..255, the order and range YuNet was trained on (OpenCV's
/// blobFromImage of a BGR Mat without scaling).
fn letterbox(img: &DecodedImage) -> Result<Letterbox> {
    let side = YUNET_INPUT;
    let long = img.width().max(img.height()) as f32;
    let scale = side as f32 / long;
    let w = ((img.width() as f32 * scale).round() as u32).clamp(1, side);
    let h = ((img.height() as f32 * scale).round() as u32).clamp(1, side);
    let resized = idv_vision::resize(img, w, h)?;
    let (width, height) = (w.div_ceil(ALIGN) * ALIGN, h.div_ceil(ALIGN) * ALIGN);
    let plane = (width * height) as usize;
    let mut tensor = vec![0.0f32; 3 * plane];
    let (b_plane, rest) = tensor.split_at_mut(plane);
    let (g_plane, r_plane) = rest.split_at_mut(plane);
    let (w, h) = (w as usize, h as usize);
    for (y, row) in resized.rgb().chunks_exact(w * 3).enumerate().take(h) {
        let base = y * width as usize;
        for (x, px) in row.chunks_exact(3).enumerate() {
            r_plane[base + x] = f32::from(px[0]);
            g_plane[base + x] = f32::from(px[1]);
            b_plane[base + x] = f32::from(px[2]);
        }
    }
    Ok(Letterbox {
        tensor,
        width: width as usize,
        height: height as usize,
        scale_x: w as f32 / img.width() as f32,
        scale_y: h as f32 / img.height() as f32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, score: f32) -> Detection {
        Detection { bbox: BoundingBox { x, y: 0.0, width: 10.0, height: 10.0 }, landmarks: [[0.0; 2]; 5], score }
    }

    #[test]
    fn nms_keeps_best_of_overlapping_and_separate_boxes() {
        let cfg = DetectorConfig::default();
        let kept = nms(vec![det(1.0, 0.8), det(0.0, 0.9), det(50.0, 0.85)], &cfg);
        let xs: Vec<f32> = kept.iter().map(|d| d.bbox.x).collect();
        assert_eq!(xs, vec![0.0, 50.0]);
    }

    #[test]
    fn iou_of_disjoint_and_identical_boxes() {
        let a = det(0.0, 1.0).bbox;
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&det(20.0, 1.0).bbox), 0.0);
    }
}
