//! A still portrait made into a poseable head: the base frame, its mesh, and the control points of the warp.

use idv_vision::DecodedImage;

use super::render::{WarpMesh, fill_mouth, noise, tint};
use super::rng::Rng;
use idv_liveness::measure::inter_ocular_3d;
use idv_liveness::mesh::{MESH_POINTS, Mesh, idx};
use idv_liveness::{LivenessEngine, LivenessError, Result};

/// Eye distance relative to the frame's width in the rendered selfies (a phone held at arm's length).
const TARGET_IOD_FRACTION: f32 = 0.18;
const RING: usize = 28;

/// Where the head is and what it does in one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadState {
    /// Degrees, with the conventions of [`idv_liveness::measure`] (yaw > 0: the user's own left).
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
    /// Face size relative to the base frame (> 1: closer).
    pub scale: f32,
    /// Shift in pixels.
    pub tx: f32,
    pub ty: f32,
    /// 0 open .. 1 closed.
    pub eyes_closed: f32,
    /// 0 closed .. 1 wide open.
    pub mouth_open: f32,
    /// Screen colour lighting the face.
    pub flash: Option<[u8; 3]>,
}

impl Default for HeadState {
    fn default() -> Self {
        Self {
            yaw: 0.0,
            pitch: 0.0,
            roll: 0.0,
            scale: 1.0,
            tx: 0.0,
            ty: 0.0,
            eyes_closed: 0.0,
            mouth_open: 0.0,
            flash: None,
        }
    }
}

/// A portrait ready to render.
#[derive(Debug, Clone)]
pub struct Portrait {
    pub name: String,
    /// The base frame: the still cropped and scaled to the output size, face centred.
    pub base: DecodedImage,
    /// Mesh of the base frame.
    pub mesh: Mesh,
    pub iod: f32,
    warp: WarpMesh,
    centre: [f32; 3],
    pivot: [f32; 3],
    ring_centre: [f32; 2],
}

fn sub2(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [a[0] - b[0], a[1] - b[1]]
}
fn dot2(a: [f32; 2], b: [f32; 2]) -> f32 {
    a[0] * b[0] + a[1] * b[1]
}
fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

impl Portrait {
    /// Frames `still` as a `width` x `height` selfie (eye distance about 18% of the width) and measures its mesh.
    pub fn new(engine: &LivenessEngine, name: &str, still: &DecodedImage, width: u32, height: u32) -> Result<Self> {
        let no_face = || LivenessError::Face(idv_face::FaceError::NoFace);
        let o = engine.analyse_frame(still, 0)?;
        let f = o.face.ok_or_else(no_face)?;
        let [el, er] = idv_liveness::measure::eye_centres(&f.mesh);
        let iod2 = (er[0] - el[0]).hypot(er[1] - el[1]);
        let c = [(el[0] + er[0]) / 2.0, (el[1] + er[1]) / 2.0 + 0.5 * iod2];
        let (sw, sh) = (still.width() as f32, still.height() as f32);
        let mut cw = iod2 / TARGET_IOD_FRACTION;
        let aspect = height as f32 / width as f32;
        cw = cw.min(sw).min(sh / aspect);
        let ch = cw * aspect;
        let x0 = (c[0] - cw / 2.0).clamp(0.0, sw - cw);
        let y0 = (c[1] - ch / 2.0).clamp(0.0, sh - ch);
        let crop = still.crop(x0 as u32, y0 as u32, cw as u32, ch as u32)?;
        let base = idv_vision::resize(&crop, width, height)?;
        let o = engine.analyse_frame(&base, 0)?;
        let mesh = o.face.ok_or_else(no_face)?.mesh;
        Ok(Self::from_mesh(name, base, mesh))
    }

    fn from_mesh(name: &str, base: DecodedImage, mesh: Mesh) -> Self {
        let iod = inter_ocular_3d(&mesh);
        let n = mesh.len() as f32;
        let centre = mesh.iter().fold([0.0; 3], |a, p| [a[0] + p[0] / n, a[1] + p[1] / n, a[2] + p[2] / n]);
        let pivot = [centre[0], centre[1], centre[2] + 1.0 * iod];
        let oval: Vec<[f32; 2]> = idx::FACE_OVAL.iter().map(|&i| [mesh[i][0], mesh[i][1]]).collect();
        let rc = [
            oval.iter().map(|p| p[0]).sum::<f32>() / oval.len() as f32,
            oval.iter().map(|p| p[1]).sum::<f32>() / oval.len() as f32,
        ];
        let ax = oval.iter().map(|p| (p[0] - rc[0]).abs()).fold(0.0, f32::max);
        let ay = oval.iter().map(|p| (p[1] - rc[1]).abs()).fold(0.0, f32::max);
        let mut src: Vec<[f32; 2]> = mesh.iter().map(|p| [p[0], p[1]]).collect();
        let ellipse = |k: f32, ky: f32| -> Vec<[f32; 2]> {
            (0..RING)
                .map(|i| {
                    let a = i as f32 / RING as f32 * std::f32::consts::TAU;
                    [rc[0] + k * ax * a.cos(), rc[1] + ky * ay * a.sin()]
                })
                .collect()
        };
        src.extend(ellipse(1.3, 1.25));
        let (w, h) = (base.width() as f32, base.height() as f32);
        src.extend(
            ellipse(2.3, 1.9).into_iter().filter(|p| p[0] > 2.0 && p[1] > 2.0 && p[0] < w - 2.0 && p[1] < h - 2.0),
        );
        for i in 0..=4 {
            let t = i as f32 / 4.0;
            src.extend([[t * w, 0.0], [t * w, h], [0.0, t * h], [w, t * h]]);
        }
        src.dedup();
        Self { name: name.to_string(), base, mesh, iod, warp: WarpMesh::new(src), centre, pivot, ring_centre: rc }
    }

    /// Moves the mesh points for eyelids and jaw in the frontal pose (before the head transform).
    fn deform(&self, st: &HeadState) -> Vec<[f32; 2]> {
        let mut p: Vec<[f32; 2]> = self.warp.src.clone();
        let m = &self.mesh;
        let at = |i: usize| [m[i][0], m[i][1]];
        if st.eyes_closed > 0.0 {
            for (pairs, (ca, cb)) in
                [(idx::LID_PAIRS_RIGHT, idx::EYE_CORNERS_RIGHT), (idx::LID_PAIRS_LEFT, idx::EYE_CORNERS_LEFT)]
            {
                let (a, b) = (at(ca), at(cb));
                let len = dot2(sub2(b, a), sub2(b, a)).sqrt().max(1.0);
                let axis = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
                let mut perp = [-axis[1], axis[0]];
                let (u0, l0) = pairs[3];
                if dot2(sub2(at(l0), at(u0)), perp) < 0.0 {
                    perp = [-perp[0], -perp[1]];
                }
                // (s along the eye, height of the upper lid, displacement to the lower lid) per pair.
                let mut lid: Vec<(f32, f32, [f32; 2])> = pairs
                    .iter()
                    .map(|&(u, l)| (dot2(sub2(at(u), a), axis) / len, dot2(sub2(at(u), a), perp), sub2(at(l), at(u))))
                    .collect();
                lid.sort_by(|x, y| x.0.total_cmp(&y.0));
                let eye_h = lid.iter().map(|x| dot2(x.2, perp)).fold(0.0, f32::max).max(1.0);
                let lower: Vec<usize> = pairs.iter().map(|x| x.1).collect();
                for (i, pi) in p.iter_mut().enumerate().take(MESH_POINTS) {
                    if lower.contains(&i) || i == ca || i == cb {
                        continue;
                    }
                    let q = sub2(at(i), a);
                    let s = dot2(q, axis) / len;
                    if !(0.0..=1.0).contains(&s) {
                        continue;
                    }
                    // Interpolate the lid between pairs; towards the corners it tapers to nothing.
                    let (mut hu, mut d) = (lid[0].1, [0.0, 0.0]);
                    let pts: Vec<(f32, f32, [f32; 2])> = std::iter::once((0.0, 0.0, [0.0, 0.0]))
                        .chain(lid.iter().copied())
                        .chain(std::iter::once((1.0, dot2(sub2(b, a), perp), [0.0, 0.0])))
                        .collect();
                    for w in pts.windows(2) {
                        if s >= w[0].0 && s <= w[1].0 {
                            let t = (s - w[0].0) / (w[1].0 - w[0].0).max(1e-6);
                            hu = w[0].1 + t * (w[1].1 - w[0].1);
                            d = [w[0].2[0] + t * (w[1].2[0] - w[0].2[0]), w[0].2[1] + t * (w[1].2[1] - w[0].2[1])];
                            break;
                        }
                    }
                    let above = hu - dot2(q, perp);
                    let wgt = if pairs.iter().any(|x| x.0 == i) {
                        1.0
                    } else if above >= -0.2 * eye_h {
                        (1.0 - above / (2.2 * eye_h)).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let k = st.eyes_closed * wgt;
                    *pi = [pi[0] + k * d[0], pi[1] + k * d[1]];
                }
            }
        }
        if st.mouth_open > 0.0 {
            let (eye_l, eye_r) = (idv_liveness::measure::eye_centres(m)[0], idv_liveness::measure::eye_centres(m)[1]);
            let (u, l) = idx::LIP_INNER_MID;
            let mouth = [(at(u)[0] + at(l)[0]) / 2.0, (at(u)[1] + at(l)[1]) / 2.0];
            let eyes = [(eye_l[0] + eye_r[0]) / 2.0, (eye_l[1] + eye_r[1]) / 2.0];
            let dv = sub2(mouth, eyes);
            let dl = dot2(dv, dv).sqrt().max(1.0);
            let down = [dv[0] / dl, dv[1] / dl];
            let right = [-down[1], down[0]];
            let drop = st.mouth_open * 0.55 * self.iod;
            let (ml, mr) = idx::MOUTH_CORNERS;
            let mouth_half = dot2(sub2(at(mr), at(ml)), [-down[1], down[0]]).abs() / 2.0;
            for (i, q) in p.iter_mut().enumerate() {
                let src = self.warp.src[i];
                let rel = sub2(src, mouth);
                let (h, x) = (dot2(rel, down), dot2(rel, right));
                let wv = if idx::INNER_LIP_UPPER.contains(&i) && i != 78 && i != 308 {
                    0.0
                } else if idx::INNER_LIP_LOWER.contains(&i) {
                    if i == 78 || i == 308 { 0.3 } else { 1.0 }
                } else {
                    smoothstep(0.03 * self.iod, 0.12 * self.iod, h)
                };
                // The lower lip opens as an arc (most in the middle), the jaw beside the mouth follows less.
                let half = mouth_half.max(1.0);
                let wh = if x.abs() < half {
                    (1.0 - (x / half).powi(2)).max(0.0) * 0.8 + 0.2
                } else {
                    0.2 * (-((x.abs() - half) / (0.8 * self.iod)).powi(2)).exp()
                };
                let wh = if h > 0.35 * self.iod {
                    wh.max(0.7 * (-((x.abs()) / (1.2 * self.iod)).powi(2)).exp())
                } else {
                    wh
                };
                let k = drop * wv * wh;
                *q = [q[0] + k * down[0], q[1] + k * down[1]];
            }
        }
        p
    }

    /// Destination positions and depths of every control point for a state.
    fn place(&self, st: &HeadState, deformed: &[[f32; 2]]) -> (Vec<[f32; 2]>, Vec<f32>) {
        let (y, pch, r) = (st.yaw.to_radians(), st.pitch.to_radians(), st.roll.to_radians());
        let pv = self.pivot;
        let transform = |x: f32, yy: f32, z: f32| -> [f32; 3] {
            let (mut x, mut yy, mut z) = (x - pv[0], yy - pv[1], z - pv[2]);
            // Pitch (about x), yaw (about y), roll (in the picture plane); signs per idv_liveness::measure.
            let (y1, z1) = (yy * pch.cos() + z * pch.sin(), -yy * pch.sin() + z * pch.cos());
            yy = y1;
            z = z1;
            let (x2, z2) = (x * y.cos() - z * y.sin(), x * y.sin() + z * y.cos());
            x = x2;
            z = z2;
            let (x3, y3) = (x * r.cos() - yy * r.sin(), x * r.sin() + yy * r.cos());
            let (cx, cy) = (self.centre[0] - pv[0], self.centre[1] - pv[1]);
            [pv[0] + cx + (x3 - cx) * st.scale + st.tx, pv[1] + cy + (y3 - cy) * st.scale + st.ty, pv[2] + z]
        };
        let mut dst = Vec::with_capacity(deformed.len());
        let mut z = Vec::with_capacity(deformed.len());
        for (i, q) in deformed.iter().enumerate() {
            if i < MESH_POINTS {
                let t = transform(q[0], q[1], self.mesh[i][2]);
                dst.push([t[0], t[1]]);
                z.push(t[2]);
            } else if i < MESH_POINTS + RING {
                let t = transform(q[0], q[1], pv[2]);
                dst.push([t[0], t[1]]);
                z.push(t[2] + 10.0 * self.iod);
            } else {
                dst.push(*q);
                z.push(1e6);
            }
        }
        (dst, z)
    }

    /// Renders one frame of a live head: warp, mouth interior, screen light on the face (22% of the skin's
    /// albedo, 3% on the farther background), sensor noise (σ `noise_sigma`).
    pub fn render(&self, st: &HeadState, rng: &mut Rng, noise_sigma: f32) -> DecodedImage {
        self.render_lit(st, rng, noise_sigma, 0.22, 0.03)
    }

    /// [`Portrait::render`] with the screen light's strength on the face and on the background given.
    pub fn render_lit(&self, st: &HeadState, rng: &mut Rng, noise_sigma: f32, face_k: f32, bg_k: f32) -> DecodedImage {
        let (w, h) = (self.base.width(), self.base.height());
        let deformed = self.deform(st);
        let (dst, z) = self.place(st, &deformed);
        let mut rgb = self.warp.warp(&self.base, &dst, &z, w, h);
        if st.mouth_open > 0.08 {
            let mut poly: Vec<[f32; 2]> = idx::INNER_LIP_UPPER.iter().map(|&i| dst[i]).collect();
            poly.extend(idx::INNER_LIP_LOWER.iter().rev().map(|&i| dst[i]));
            fill_mouth(&mut rgb, w as usize, h as usize, &poly);
        }
        if let Some(c) = st.flash {
            let oval: Vec<[f32; 2]> = idx::FACE_OVAL.iter().map(|&i| dst[i]).collect();
            let n = oval.len() as f32;
            let cx = oval.iter().map(|p| p[0]).sum::<f32>() / n;
            let cy = oval.iter().map(|p| p[1]).sum::<f32>() / n;
            let ax = oval.iter().map(|p| (p[0] - cx).abs()).fold(0.0, f32::max);
            let ay = oval.iter().map(|p| (p[1] - cy).abs()).fold(0.0, f32::max);
            tint(
                &mut rgb,
                w as usize,
                c.map(|v| f32::from(v) / 255.0),
                ([cx, cy], [ax * 1.05, ay * 1.05]),
                face_k,
                bg_k,
            );
        }
        noise(&mut rgb, rng, noise_sigma);
        DecodedImage::from_rgb(w, h, rgb).expect("rendered buffer has the frame's size")
    }

    /// The centre of the head's outline in the base frame.
    pub fn head_centre(&self) -> [f32; 2] {
        self.ring_centre
    }
}
