//! 3-D structure: a real head turning shows parallax (the nose tip moves more than the cheeks and the ears),
//! a photo or a screen moved in front of the camera does not, whatever its tilt: the picture of a plane
//! under any camera motion is a homography of another picture of it.
//!
//! For each frame, against the start (mean of the first three measured frames; each target is averaged
//! with its neighbours to cut landmark noise), the engine fits a homography H to the landmarks of the upper
//! face (above the mouth, eyelids excluded: they move rigidly with the head whatever the expression) and
//! measures:
//! * `anisotropy` = σ1/σ2 − 1 of H's Jacobian at the face centre: how much more the face was squeezed in
//!   one direction than the other. A head turned by θ is squeezed sideways by cos θ; a photo tilted by θ too.
//! * the yaw the mesh reads: the mesh recovers a real head's rotation from its 3-D cues (shading, profile of
//!   the nose, occlusion) but reads a tilted photo as a face that barely turned (4-7° for 40-50° tilts).
//! * `foreshortening` = anisotropy − [`expected_squeeze`] (the ratio of cos(yaw · [`YAW_GAIN`]) at the start and
//!   at the frame): the squeeze the head's own rotation does not explain, the decision: planar when it reaches
//!   [`MAX_FORESHORTENING`].
//! * `parallax` (reported): the homography's residual regressed on the mesh's depth, |slope| · std(depth)
//!   in eye distances, and `ratio` = parallax / (anisotropy + parallax). The mesh's shape prior blurs it: on
//!   a tilted photo it bends its landmarks as if the face turned, leaving 0.01-0.03 eye distances of
//!   depth-correlated "parallax", so it is not decided on.
//!
//! Only the frames of head-turn actions are judged (the caller marks them: expressions and moving closer
//! squeeze the face for other reasons), and only sequences starting within [`MAX_START_YAW_DEG`]; of those
//! frames, the (at most 5) with the most anisotropy ≥ [`MIN_MOTION`] count, the score is their median.
//! Measurements are in the crate README.

use serde::Serialize;

use crate::geom::{Homography, P2, Similarity2};
use crate::mesh::idx;

/// At or above this foreshortening the motion is planar too (a tilted picture the mesh does not see turn).
pub const MAX_FORESHORTENING: f32 = 0.1;
/// Past this starting yaw the cosine model is too steep to trust (a 5° reading error at 30° moves the
/// expected squeeze by 0.06); such sequences are not judged.
pub const MAX_START_YAW_DEG: f32 = 25.0;
/// The mesh under-reads synthetic head turns (28° reads about 20°, see the pose test); the expected squeeze
/// uses the corrected angle.
pub const YAW_GAIN: f32 = 1.4;
/// Frames with less anisotropy than this are not judged (sway, landmark noise; a 16° turn gives 0.04).
pub const MIN_MOTION: f32 = 0.04;
/// The decision uses the median ratio over at most this many frames with the most motion.
const FRAMES_USED: usize = 5;

/// The planarity measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlanarityScore {
    /// Median over the frames used of parallax / (anisotropy + parallax) (reported, not decided on).
    pub ratio: f32,
    /// Median over the frames used of anisotropy − (1/cos(yaw change the mesh reports) − 1): foreshortening
    /// that the head's own rotation does not account for.
    pub foreshortening: f32,
    /// Anisotropy and parallax of the frame with the most anisotropy.
    pub anisotropy: f32,
    pub parallax: f32,
    pub frames_used: usize,
    /// `foreshortening >= MAX_FORESHORTENING`.
    pub planar: bool,
}

fn xy(mesh: &[[f32; 3]]) -> Vec<P2> {
    mesh.iter().map(|p| [f64::from(p[0]), f64::from(p[1])]).collect()
}

/// Points of the upper face (above the mouth, eyelids excluded) of a mesh: they move rigidly with the head
/// whatever the eyes and mouth do.
pub fn upper_face(m: &[[f32; 3]]) -> Vec<usize> {
    let [el, er] = crate::measure::eye_centres(m);
    let eyes = [(el[0] + er[0]) / 2.0, (el[1] + er[1]) / 2.0];
    let (u, l) = idx::LIP_INNER_MID;
    let mouth = [(m[u][0] + m[l][0]) / 2.0, (m[u][1] + m[l][1]) / 2.0];
    let down = [mouth[0] - eyes[0], mouth[1] - eyes[1]];
    let len2 = (down[0] * down[0] + down[1] * down[1]).max(1.0);
    let lids: Vec<usize> = idx::LID_PAIRS_RIGHT.iter().chain(&idx::LID_PAIRS_LEFT).flat_map(|&(a, b)| [a, b]).collect();
    (0..m.len())
        .filter(|i| !lids.contains(i))
        .filter(|&i| ((m[i][0] - eyes[0]) * down[0] + (m[i][1] - eyes[1]) * down[1]) / len2 < 0.7)
        .collect()
}

/// (anisotropy, parallax) of frame `b` against the reference `a` over the points `keep`.
pub fn motion(a: &[[f32; 3]], b: &[[f32; 3]], iod: f32, keep: &[usize]) -> Option<(f32, f32)> {
    let a: Vec<[f32; 3]> = keep.iter().map(|&i| a[i]).collect();
    let b: Vec<[f32; 3]> = keep.iter().map(|&i| b[i]).collect();
    let (pa, pb) = (xy(&a), xy(&b));
    let h = Homography::fit(&pa, &pb)?;
    let n = pa.len() as f64;
    let iod = f64::from(iod.max(1.0));
    let c = crate::geom::mean(&pa);
    let [[h11, h12, h13], [h21, h22, h23], [h31, h32, h33]] = h.0;
    let w = h31 * c[0] + h32 * c[1] + h33;
    let (u, v) = ((h11 * c[0] + h12 * c[1] + h13) / w, (h21 * c[0] + h22 * c[1] + h23) / w);
    // Jacobian of the homography at the face centre, and its singular values (closed form for 2x2).
    let j = [(h11 - h31 * u) / w, (h12 - h32 * u) / w, (h21 - h31 * v) / w, (h22 - h32 * v) / w];
    let t = j.iter().map(|x| x * x).sum::<f64>();
    let d = (j[0] * j[3] - j[1] * j[2]).abs();
    let disc = (t * t - 4.0 * d * d).max(0.0).sqrt();
    let (s1, s2) = (((t + disc) / 2.0).sqrt(), ((t - disc) / 2.0).max(1e-12).sqrt());
    let anisotropy = s1 / s2 - 1.0;
    let zm = a.iter().map(|p| f64::from(p[2])).sum::<f64>() / n;
    let (mut szz, mut szx, mut szy) = (0.0, 0.0, 0.0);
    for ((p, q), m) in pa.iter().zip(&pb).zip(&a) {
        let r = h.apply(*p);
        let dz = f64::from(m[2]) - zm;
        szz += dz * dz;
        szx += dz * (q[0] - r[0]);
        szy += dz * (q[1] - r[1]);
    }
    if szz <= 1e-9 || !anisotropy.is_finite() {
        return None;
    }
    let slope = (szx * szx + szy * szy).sqrt() / szz;
    let parallax = slope * (szz / n).sqrt() / iod;
    Some((anisotropy as f32, parallax as f32))
}

/// Residuals of frame `b` against `a` on all points after a similarity fit, in eye distances (shape change).
pub fn shape_change(a: &[[f32; 3]], b: &[[f32; 3]], iod: f32) -> Option<f32> {
    let (pa, pb) = (xy(a), xy(b));
    let s = Similarity2::fit(&pa, &pb)?;
    Some((crate::geom::rms_residual(&pa, &pb, |p| s.apply(p)) / f64::from(iod.max(1.0))) as f32)
}

fn average(meshes: &[&[[f32; 3]]]) -> Vec<[f32; 3]> {
    let n = meshes.len().max(1) as f32;
    (0..meshes[0].len())
        .map(|i| {
            let s = meshes.iter().fold([0.0f32; 3], |a, m| [a[0] + m[i][0], a[1] + m[i][1], a[2] + m[i][2]]);
            [s[0] / n, s[1] / n, s[2] / n]
        })
        .collect()
}

/// Measures planarity over a sequence of meshes (`None` where no face was measured) against the start.
/// Landmark noise is reduced by averaging: the reference is the mean of the first three measured frames,
/// each target the mean of a frame and its measured neighbours. `None` when nothing moved enough to judge.
/// One measured frame for [`planarity`]: mesh, inter-ocular distance, yaw in degrees.
pub type MeshSample<'a> = (&'a [[f32; 3]], f32, f32);

/// The squeeze a head turning from `yaw0` to `yaw1` (as the mesh reads them) shows: its width goes with the
/// cosine of the (gain-corrected) yaw, so the ratio of the two cosines, whichever way it turned; and at least
/// the squeeze of turning by the whole change from frontal. The floor is for turns through frontal (a portrait
/// starting at 10° turned 20-30° the other way): the cosines' ratio is then near 1, but the upper face is not a
/// plane and the homography fitted to it squeezes as for the whole turn (genuine anisotropy 0.10-0.20 where the
/// ratio explains 0.00-0.03; see the crate README). A tilted photo gains nothing from it: the mesh reads it as
/// barely turned.
pub fn expected_squeeze(yaw0: f32, yaw1: f32) -> f32 {
    let c = |y: f32| (y * YAW_GAIN).to_radians().cos().max(0.2);
    let r = c(yaw0) / c(yaw1);
    let whole = 1.0 / c(yaw1 - yaw0) - 1.0;
    (r.max(1.0 / r) - 1.0).max(whole)
}

/// `judged[i]` marks the frames of a head movement (the head-turn actions' windows): only they are compared
/// with the start, so expressions and moving closer, which squeeze the face for other reasons, are not.
pub fn planarity(meshes: &[Option<MeshSample<'_>>], judged: &[bool]) -> Option<PlanarityScore> {
    let seen: Vec<(usize, MeshSample<'_>)> = meshes.iter().enumerate().filter_map(|(i, m)| m.map(|m| (i, m))).collect();
    if seen.len() < 4 {
        return None;
    }
    let reference = average(&seen[..3].iter().map(|m| m.1.0).collect::<Vec<_>>());
    let iod = seen[..3].iter().map(|m| m.1.1).sum::<f32>() / 3.0;
    let keep = upper_face(&reference);
    let yaw0 = seen[..3].iter().map(|m| m.1.2).sum::<f32>() / 3.0;
    if yaw0.abs() > MAX_START_YAW_DEG {
        return None;
    }
    let mut moved: Vec<(f32, f32, f32)> = (3..seen.len())
        .filter(|&j| judged.get(seen[j].0).copied().unwrap_or(false))
        .filter_map(|j| {
            let around = &seen[j - 1..(j + 2).min(seen.len())];
            let window: Vec<&[[f32; 3]]> = around.iter().map(|m| m.1.0).collect();
            let yaw = around.iter().map(|m| m.1.2).sum::<f32>() / window.len() as f32;
            let (p, x) = motion(&reference, &average(&window), iod, &keep)?;
            Some((p, x, p - expected_squeeze(yaw0, yaw)))
        })
        .filter(|(p, _, _)| *p >= MIN_MOTION)
        .collect();
    if moved.is_empty() {
        return None;
    }
    moved.sort_by(|a, b| b.0.total_cmp(&a.0));
    moved.truncate(FRAMES_USED);
    let med = |mut v: Vec<f32>| {
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    };
    let ratio = med(moved.iter().map(|(p, x, _)| x / (p + x).max(1e-6)).collect());
    let foreshortening = med(moved.iter().map(|m| m.2).collect());
    Some(PlanarityScore {
        ratio,
        foreshortening,
        anisotropy: moved[0].0,
        parallax: moved[0].1,
        frames_used: moved.len(),
        planar: foreshortening >= MAX_FORESHORTENING,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_squeeze_follows_the_absolute_yaw_either_way() {
        assert!(expected_squeeze(5.0, 5.0).abs() < 1e-6);
        // The same yaw change squeezes more the farther from frontal it happens.
        assert!(expected_squeeze(15.0, 30.0) > expected_squeeze(0.0, 15.0));
        // Turning back towards frontal widens the face: the same magnitude as turning away.
        assert!((expected_squeeze(20.0, 0.0) - expected_squeeze(0.0, 20.0)).abs() < 1e-6);
        // Through frontal, the whole turn's squeeze: symmetric poses are equally wide, but the upper face is
        // not a plane.
        assert!((expected_squeeze(-10.0, 10.0) - expected_squeeze(0.0, 20.0)).abs() < 1e-6);
        assert!(expected_squeeze(10.0, -10.0) > 0.1);
        // A tilted photo the mesh reads as barely turned is expected to show almost no squeeze.
        assert!(expected_squeeze(0.0, 5.0) < 0.01);
    }
}
