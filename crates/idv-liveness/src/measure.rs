//! Per-frame measures from the 468 mesh points: head pose, eye and mouth openness, face scale.
//!
//! **Head pose** comes from the mesh's own 3-D points (x, y in picture pixels, z depth in the same unit,
//! larger = farther), without a canonical face model: the left-right axis of the face is the mean of the
//! vectors joining 14 mirror pairs on rigid parts of the face (eye corners, nose wings, the oval above the
//! jaw); the up axis is forehead top (10) minus nose base (2) with its left-right component removed; forward
//! is their cross product. Yaw is the forward axis's angle left/right of the camera axis, pitch its angle
//! above/below, roll the in-plane angle of the left-right axis. Symmetry makes yaw and roll free of a
//! per-person bias; pitch carries the tilt of the forehead-to-nose line of a neutral face, removed with
//! [`PITCH_OFFSET_DEG`] (measured on frontal portraits). Accuracy on synthetic poses: see the crate README.
//!
//! **Sign conventions** (frames must not be mirrored): yaw > 0 when the user turns the head to **their own
//! left** (the nose moves towards the picture's right); pitch > 0 when the user looks up; roll > 0 when the
//! head tilts clockwise in the picture.

use serde::Serialize;

use crate::mesh::idx;

/// Pitch of the raw forward axis on frontal portraits (astronaut, obama, grace_hopper), subtracted so a
/// level head reads about 0.
pub const PITCH_OFFSET_DEG: f32 = 0.0;

/// Head pose in degrees; see the module documentation for the conventions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct HeadPose {
    pub yaw_deg: f32,
    pub pitch_deg: f32,
    pub roll_deg: f32,
}

type V3 = [f64; 3];

fn v3(p: &[f32; 3]) -> V3 {
    [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])]
}
fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn norm(a: V3) -> V3 {
    let n = dot(a, a).sqrt().max(1e-12);
    [a[0] / n, a[1] / n, a[2] / n]
}
fn cross(a: V3, b: V3) -> V3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

/// Head pose from a mesh (see the module documentation).
pub fn head_pose(mesh: &[[f32; 3]]) -> HeadPose {
    let mut lr = [0.0; 3];
    for (l, r) in idx::SYMMETRIC_PAIRS {
        let d = sub(v3(&mesh[r]), v3(&mesh[l]));
        lr = [lr[0] + d[0], lr[1] + d[1], lr[2] + d[2]];
    }
    let n = norm(lr);
    let v = sub(v3(&mesh[idx::FOREHEAD]), v3(&mesh[idx::NOSE_BASE]));
    let k = dot(v, n);
    let up = norm([v[0] - k * n[0], v[1] - k * n[1], v[2] - k * n[2]]);
    // x right, y down, z away: right x up points towards the camera.
    let f = cross(n, up);
    let yaw = f[0].atan2(-f[2]).to_degrees() as f32;
    let pitch = (-f[1]).atan2(f[0].hypot(f[2])).to_degrees() as f32 - PITCH_OFFSET_DEG;
    let roll = n[1].atan2(n[0]).to_degrees() as f32;
    HeadPose { yaw_deg: yaw, pitch_deg: pitch, roll_deg: roll }
}

fn d2(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Eye aspect ratio (Soukupová and Čech) of points p1..p6 in the picture plane:
/// `(|p2−p6| + |p3−p5|) / (2·|p1−p4|)`. About 0.20-0.23 for open eyes, under 0.1 when closed.
pub fn eye_aspect_ratio(mesh: &[[f32; 3]], p: [usize; 6]) -> f32 {
    let w = d2(&mesh[p[0]], &mesh[p[3]]).max(1e-3);
    (d2(&mesh[p[1]], &mesh[p[5]]) + d2(&mesh[p[2]], &mesh[p[4]])) / (2.0 * w)
}

/// Mouth aspect ratio: inner-lip gap at the middle (13-14) over the mouth-corner distance (61-291), both in 3-D
/// so a head turn, which narrows the mouth in the picture, does not read as an opening (it did: a turn from a
/// portrait with parted lips raised the picture-plane ratio by 0.08).
/// Closed lips read 0.00-0.15 (a smile showing teeth up to 0.35); the mesh under-reads wide-open mouths
/// (its shape prior), so an opening is judged by the rise over the starting value.
pub fn mouth_aspect_ratio(mesh: &[[f32; 3]]) -> f32 {
    let (a, b) = idx::LIP_INNER_MID;
    let (l, r) = idx::MOUTH_CORNERS;
    d3(&mesh[a], &mesh[b]) / d3(&mesh[l], &mesh[r]).max(1e-3)
}

fn d3(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn centre(mesh: &[[f32; 3]], (a, b): (usize, usize)) -> [f32; 3] {
    let (p, q) = (mesh[a], mesh[b]);
    [(p[0] + q[0]) / 2.0, (p[1] + q[1]) / 2.0, (p[2] + q[2]) / 2.0]
}

/// Distance between the eye centres (mid-points of the eye corners) in 3-D, so a head turn does not shrink
/// it the way the picture-plane distance shrinks.
pub fn inter_ocular_3d(mesh: &[[f32; 3]]) -> f32 {
    let (l, r) = (centre(mesh, idx::EYE_CORNERS_RIGHT), centre(mesh, idx::EYE_CORNERS_LEFT));
    ((l[0] - r[0]).powi(2) + (l[1] - r[1]).powi(2) + (l[2] - r[2]).powi(2)).sqrt()
}

/// Eye centres in the picture (picture-left eye first).
pub fn eye_centres(mesh: &[[f32; 3]]) -> [[f32; 2]; 2] {
    let (l, r) = (centre(mesh, idx::EYE_CORNERS_RIGHT), centre(mesh, idx::EYE_CORNERS_LEFT));
    [[l[0], l[1]], [r[0], r[1]]]
}

/// Everything measured on one face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FaceMeasures {
    pub pose: HeadPose,
    /// Eye aspect ratio of the picture-left eye (the subject's right), the other eye, and their mean.
    pub ear_right: f32,
    pub ear_left: f32,
    pub ear: f32,
    /// Eye aspect ratio of the iris model's lid contour, mean of both eyes (see the crate README): the signal
    /// blinks are judged on.
    pub eye_openness: f32,
    pub mar: f32,
    /// 3-D inter-ocular distance in picture pixels.
    pub iod_px: f32,
    /// `iod_px` over the picture's shorter side: how large the face is in the frame.
    pub face_scale: f32,
}

/// Measures a mesh in a picture of the given size; `iris` is the iris model's openness of both eyes, when run
/// (otherwise the mesh's eye aspect ratio stands in).
pub fn measure(mesh: &[[f32; 3]], width: u32, height: u32, iris: Option<[f32; 2]>) -> FaceMeasures {
    let (er, el) = (eye_aspect_ratio(mesh, idx::EAR_RIGHT), eye_aspect_ratio(mesh, idx::EAR_LEFT));
    let iod = inter_ocular_3d(mesh);
    FaceMeasures {
        pose: head_pose(mesh),
        ear_right: er,
        ear_left: el,
        ear: (er + el) / 2.0,
        eye_openness: iris.map_or((er + el) / 2.0, |[a, b]| (a + b) / 2.0),
        mar: mouth_aspect_ratio(mesh),
        iod_px: iod,
        face_scale: iod / width.min(height).max(1) as f32,
    }
}
