//! Face quality measured on the aligned crop and the landmarks: sharpness, illumination, face size, pose and
//! how much of the face is inside the picture. Each sub-score is 0..100 (higher is better); the mappings and
//! the measurements behind their constants are in the crate documentation ("Quality").

use serde::Serialize;

use crate::align::ALIGNED_SIZE;
use crate::detect::Detection;

/// Laplacian variance at which the sharpness score reaches 63 (1 - 1/e).
pub const SHARPNESS_SCALE: f32 = 100.0;
/// Inter-eye distance (picture pixels) from which the size score is 100: the template's eye distance,
/// i.e. the face is not upscaled for the recogniser.
pub const FULL_SIZE_EYE_DISTANCE: f32 = 35.0;
/// Inter-eye distance at or below which the size score is 0.
pub const MIN_EYE_DISTANCE: f32 = 10.0;

/// Why a picture should be retaken; the cut-offs are listed on [`FaceQuality::issues`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QualityIssue {
    Blurry,
    TooDark,
    TooBright,
    LowContrast,
    UnevenLighting,
    FaceTooSmall,
    NotFrontal,
    Tilted,
    FaceCutOff,
}

/// Head pose estimated from the five landmarks (approximate: about ±10° on frontal-ish faces).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pose {
    /// Left-right head turn in degrees; positive when the nose points to the picture's right.
    pub yaw_deg: f32,
    /// In-plane tilt of the eye line in degrees; positive clockwise in the picture.
    pub roll_deg: f32,
}

/// Raw measurements behind the scores, kept for the decision record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QualityMeasures {
    /// Variance of the 4-neighbour Laplacian over the inner face of the aligned grey crop.
    pub laplacian_variance: f32,
    /// Mean luma (0..255) of the inner face.
    pub mean_luma: f32,
    /// Standard deviation of luma of the inner face.
    pub luma_std: f32,
    /// Fraction of inner-face pixels at or near black or white (luma <= 8 or >= 247).
    pub clipped_fraction: f32,
    /// |left half mean - right half mean| / brighter half mean, over the inner face.
    pub lighting_asymmetry: f32,
    /// Distance between the eye landmarks in picture pixels.
    pub inter_eye_px: f32,
    /// Fraction of the face box that lies inside the picture.
    pub in_frame: f32,
}

/// Quality of one face. Field names map to the API's ExtFaceInfo fields as noted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceQuality {
    /// `FaceQualityScore`: geometric mean of the four sub-scores below, times the in-frame fraction.
    pub face_quality_score: f32,
    /// `SharpnessScore`.
    pub sharpness_score: f32,
    /// `IlluminationScore`.
    pub illumination_score: f32,
    /// Face size sub-score (no API field of its own).
    pub face_size_score: f32,
    /// Pose sub-score (no API field of its own).
    pub pose_score: f32,
    pub pose: Pose,
    pub measures: QualityMeasures,
}

impl FaceQuality {
    /// Problems a user can fix by retaking the picture, with these cut-offs: sharpness score < 40; mean
    /// luma < 60 or > 200; luma std < 20; lighting asymmetry > 0.45; inter-eye distance < 22 px; |yaw| > 30°;
    /// |roll| > 30°; less than 90% of the face box inside the picture.
    pub fn issues(&self) -> Vec<QualityIssue> {
        let m = &self.measures;
        let checks = [
            (self.sharpness_score < 40.0, QualityIssue::Blurry),
            (m.mean_luma < 60.0, QualityIssue::TooDark),
            (m.mean_luma > 200.0, QualityIssue::TooBright),
            (m.luma_std < 20.0, QualityIssue::LowContrast),
            (m.lighting_asymmetry > 0.45, QualityIssue::UnevenLighting),
            (m.inter_eye_px < 22.0, QualityIssue::FaceTooSmall),
            (self.pose.yaw_deg.abs() > 30.0, QualityIssue::NotFrontal),
            (self.pose.roll_deg.abs() > 30.0, QualityIssue::Tilted),
            (m.in_frame < 0.9, QualityIssue::FaceCutOff),
        ];
        checks.into_iter().filter_map(|(bad, issue)| bad.then_some(issue)).collect()
    }
}

/// The inner face of the aligned crop: brows to chin, cheek to cheek, little background or hair.
const INNER: (usize, usize, usize, usize) = (24, 36, 88, 104); // x0, y0, x1, y1

/// Measures quality from the aligned RGB crop and the detection in picture coordinates.
pub fn assess(aligned_rgb: &[u8], det: &Detection, width: u32, height: u32) -> FaceQuality {
    let grey = idv_vision::to_gray(aligned_rgb);
    let (x0, y0, x1, y1) = INNER;
    let at = |x: usize, y: usize| f32::from(grey[y * ALIGNED_SIZE + x]);

    let mut lap = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for y in y0..y1 {
        for x in x0..x1 {
            lap.push(at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y));
        }
    }
    let laplacian_variance = variance(&lap);

    let mut inner = Vec::with_capacity(lap.len());
    let (mut left, mut right, mut n_half) = (0.0f64, 0.0f64, 0usize);
    let mid = (x0 + x1) / 2;
    for y in y0..y1 {
        for x in x0..x1 {
            let v = at(x, y);
            inner.push(v);
            if x < mid {
                left += f64::from(v);
                n_half += 1;
            } else {
                right += f64::from(v);
            }
        }
    }
    let mean_luma = mean(&inner);
    let luma_std = variance(&inner).sqrt();
    let clipped_fraction = inner.iter().filter(|&&v| v <= 8.0 || v >= 247.0).count() as f32 / inner.len() as f32;
    let (left, right) = (left / n_half as f64, right / (inner.len() - n_half) as f64);
    let lighting_asymmetry = ((left - right).abs() / left.max(right).max(1.0)) as f32;

    let inter_eye_px = det.inter_eye_distance();
    let in_frame = in_frame_fraction(det, width, height);
    let pose = estimate_pose(det);

    let sharpness_score = 100.0 * (1.0 - (-laplacian_variance / SHARPNESS_SCALE).exp());
    let exposure = ramp(mean_luma, 25.0, 90.0) * (1.0 - ramp(mean_luma, 170.0, 235.0));
    let contrast = ramp(luma_std, 5.0, 35.0);
    let clipping = 1.0 - ramp(clipped_fraction, 0.05, 0.35);
    let balance = 1.0 - ramp(lighting_asymmetry, 0.25, 0.75);
    let illumination_score = 100.0 * exposure * contrast * clipping * balance;
    let face_size_score = 100.0 * ramp(inter_eye_px, MIN_EYE_DISTANCE, FULL_SIZE_EYE_DISTANCE);
    let pose_score =
        100.0 * (1.0 - ramp(pose.yaw_deg.abs(), 15.0, 45.0)) * (1.0 - ramp(pose.roll_deg.abs(), 15.0, 45.0));
    let geo = [sharpness_score, illumination_score, face_size_score, pose_score]
        .iter()
        .map(|s| s.max(0.0) / 100.0)
        .product::<f32>()
        .powf(0.25);
    FaceQuality {
        face_quality_score: 100.0 * geo * in_frame,
        sharpness_score,
        illumination_score,
        face_size_score,
        pose_score,
        pose,
        measures: QualityMeasures {
            laplacian_variance,
            mean_luma,
            luma_std,
            clipped_fraction,
            lighting_asymmetry,
            inter_eye_px,
            in_frame,
        },
    }
}

/// Yaw from how far the nose tip sits from the face's midline (midpoint of the eye and mouth centres),
/// relative to half the eye distance, in the roll-corrected frame. A head turned by θ moves the nose tip by
/// about `D·sinθ` while the eyes close up to `2E·cosθ`; with the usual nose depth `D ≈ 0.7E` that gives
/// `θ = atan(r / 0.7)`.
pub fn estimate_pose(det: &Detection) -> Pose {
    let [le, re, nose, lm, rm] = det.landmarks;
    let roll = (re[1] - le[1]).atan2(re[0] - le[0]);
    let (c, s) = (roll.cos(), roll.sin());
    let unroll = |p: [f32; 2]| p[0] * c + p[1] * s;
    let half_iod = (det.inter_eye_distance() / 2.0).max(1e-3);
    let eye_mid = (unroll(le) + unroll(re)) / 2.0;
    let mouth_mid = (unroll(lm) + unroll(rm)) / 2.0;
    let midline = (eye_mid + mouth_mid) / 2.0;
    let r = (unroll(nose) - midline) / half_iod;
    Pose { yaw_deg: (r / 0.7).atan().to_degrees(), roll_deg: roll.to_degrees() }
}

fn in_frame_fraction(det: &Detection, width: u32, height: u32) -> f32 {
    let b = &det.bbox;
    let ix = (b.x + b.width).min(width as f32) - b.x.max(0.0);
    let iy = (b.y + b.height).min(height as f32) - b.y.max(0.0);
    let area = b.area();
    if area <= 0.0 {
        return 0.0;
    }
    (ix.max(0.0) * iy.max(0.0) / area).clamp(0.0, 1.0)
}

/// 0 at or below `lo`, 1 at or above `hi`, linear in between.
fn ramp(v: f32, lo: f32, hi: f32) -> f32 {
    ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
}

fn mean(v: &[f32]) -> f32 {
    (v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len().max(1) as f64) as f32
}

fn variance(v: &[f32]) -> f32 {
    let m = f64::from(mean(v));
    (v.iter().map(|x| (f64::from(*x) - m).powi(2)).sum::<f64>() / v.len().max(1) as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::TEMPLATE;
    use crate::detect::BoundingBox;

    fn det_at(landmarks: [[f32; 2]; 5]) -> Detection {
        Detection { bbox: BoundingBox { x: 0.0, y: 0.0, width: 112.0, height: 112.0 }, landmarks, score: 1.0 }
    }

    #[test]
    fn template_face_is_frontal_and_level() {
        let p = estimate_pose(&det_at(TEMPLATE));
        assert!(p.yaw_deg.abs() < 2.0 && p.roll_deg.abs() < 1.0, "{p:?}");
    }

    #[test]
    fn nose_shift_reads_as_yaw_and_tilt_as_roll() {
        let mut turned = TEMPLATE;
        turned[2][0] += 10.0;
        assert!(estimate_pose(&det_at(turned)).yaw_deg > 20.0);
        let t = 25f32.to_radians();
        let tilted = TEMPLATE.map(|[x, y]| [x * t.cos() - y * t.sin(), x * t.sin() + y * t.cos()]);
        let p = estimate_pose(&det_at(tilted));
        assert!((p.roll_deg - 25.0).abs() < 0.5 && p.yaw_deg.abs() < 2.0, "{p:?}");
    }

    #[test]
    fn flat_crop_is_not_sharp_and_has_no_contrast() {
        let crop = vec![128u8; ALIGNED_SIZE * ALIGNED_SIZE * 3];
        let q = assess(&crop, &det_at(TEMPLATE), 112, 112);
        assert_eq!(q.sharpness_score, 0.0);
        assert!(q.issues().contains(&QualityIssue::Blurry));
        assert!(q.issues().contains(&QualityIssue::LowContrast));
    }

    #[test]
    fn face_box_outside_picture_is_cut_off() {
        let mut d = det_at(TEMPLATE);
        d.bbox.x = -56.0;
        let q = assess(&vec![0u8; ALIGNED_SIZE * ALIGNED_SIZE * 3], &d, 112, 112);
        assert!((q.measures.in_frame - 0.5).abs() < 1e-6);
        assert!(q.issues().contains(&QualityIssue::FaceCutOff));
    }
}
