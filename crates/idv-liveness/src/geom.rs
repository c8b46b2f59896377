//! Small dense geometry: 2-D similarity and homography fits by least squares, and the symmetric
//! eigen-solver behind the homography. Sizes are fixed and tiny, so a dependency on a linear-algebra crate
//! would cost more build time than these few functions.

/// A 2-D point.
pub type P2 = [f64; 2];

/// `x' = a·x − b·y + tx`, `y' = b·x + a·y + ty`: rotation, uniform scale and translation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity2 {
    pub a: f64,
    pub b: f64,
    pub tx: f64,
    pub ty: f64,
}

impl Similarity2 {
    /// Least-squares fit taking `src` onto `dst` (closed form; see idv-face's alignment for the derivation).
    pub fn fit(src: &[P2], dst: &[P2]) -> Option<Self> {
        let n = src.len().min(dst.len());
        if n < 2 {
            return None;
        }
        let (ms, md) = (mean(&src[..n]), mean(&dst[..n]));
        let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
        for (p, q) in src.iter().zip(dst) {
            let (px, py) = (p[0] - ms[0], p[1] - ms[1]);
            let (qx, qy) = (q[0] - md[0], q[1] - md[1]);
            dot += px * qx + py * qy;
            cross += px * qy - py * qx;
            norm += px * px + py * py;
        }
        if norm <= f64::EPSILON {
            return None;
        }
        let (a, b) = (dot / norm, cross / norm);
        Some(Self { a, b, tx: md[0] - (a * ms[0] - b * ms[1]), ty: md[1] - (b * ms[0] + a * ms[1]) })
    }

    pub fn apply(&self, p: P2) -> P2 {
        [self.a * p[0] - self.b * p[1] + self.tx, self.b * p[0] + self.a * p[1] + self.ty]
    }

    #[cfg(test)]
    fn scale(&self) -> f64 {
        self.a.hypot(self.b)
    }
}

/// A 3x3 projective transform, row-major, acting on `[x, y, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub [[f64; 3]; 3]);

impl Homography {
    /// Direct linear transform with Hartley normalisation: both point sets are centred and scaled to mean
    /// distance √2 so the 9x9 normal matrix is well conditioned, then the solution is the eigenvector of
    /// its smallest eigenvalue. Needs at least 4 points in general position.
    pub fn fit(src: &[P2], dst: &[P2]) -> Option<Self> {
        let n = src.len().min(dst.len());
        if n < 4 {
            return None;
        }
        let (ts, td) = (normaliser(&src[..n])?, normaliser(&dst[..n])?);
        let mut ata = [[0.0f64; 9]; 9];
        for (p, q) in src.iter().zip(dst).take(n) {
            let (x, y) = (ts.0 * (p[0] - ts.1[0]), ts.0 * (p[1] - ts.1[1]));
            let (u, v) = (td.0 * (q[0] - td.1[0]), td.0 * (q[1] - td.1[1]));
            let r1 = [-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u];
            let r2 = [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v];
            for r in [r1, r2] {
                for i in 0..9 {
                    for j in 0..9 {
                        ata[i][j] += r[i] * r[j];
                    }
                }
            }
        }
        let h = smallest_eigenvector(ata);
        let hn = [[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], h[8]]];
        // Undo the normalisations: H = Td⁻¹ · Hn · Ts.
        let t_s = [[ts.0, 0.0, -ts.0 * ts.1[0]], [0.0, ts.0, -ts.0 * ts.1[1]], [0.0, 0.0, 1.0]];
        let td_inv = [[1.0 / td.0, 0.0, td.1[0]], [0.0, 1.0 / td.0, td.1[1]], [0.0, 0.0, 1.0]];
        let m = mul3(&td_inv, &mul3(&hn, &t_s));
        let s = m[2][2];
        if !s.is_finite() || s.abs() < 1e-12 {
            return None;
        }
        Some(Self(m.map(|r| r.map(|v| v / s))))
    }

    pub fn apply(&self, p: P2) -> P2 {
        let m = &self.0;
        let w = m[2][0] * p[0] + m[2][1] * p[1] + m[2][2];
        let w = if w.abs() < 1e-12 { 1e-12 } else { w };
        [(m[0][0] * p[0] + m[0][1] * p[1] + m[0][2]) / w, (m[1][0] * p[0] + m[1][1] * p[1] + m[1][2]) / w]
    }
}

/// Root-mean-square distance between `f(src[i])` and `dst[i]`.
pub fn rms_residual(src: &[P2], dst: &[P2], f: impl Fn(P2) -> P2) -> f64 {
    let n = src.len().min(dst.len());
    if n == 0 {
        return 0.0;
    }
    let sum: f64 = src.iter().zip(dst).map(|(p, q)| dist2(f(*p), *q)).sum();
    (sum / n as f64).sqrt()
}

pub fn mean(pts: &[P2]) -> P2 {
    let n = pts.len().max(1) as f64;
    let (x, y) = pts.iter().fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
    [x / n, y / n]
}

pub fn dist2(a: P2, b: P2) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// (scale, centre) such that `scale·(p − centre)` has mean distance √2 from the origin.
fn normaliser(pts: &[P2]) -> Option<(f64, P2)> {
    let c = mean(pts);
    let d = pts.iter().map(|p| dist2(*p, c).sqrt()).sum::<f64>() / pts.len() as f64;
    (d > 1e-12).then(|| (std::f64::consts::SQRT_2 / d, c))
}

fn mul3(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// Eigenvector of the smallest eigenvalue of a symmetric 9x9 matrix, by cyclic Jacobi rotations
/// (unconditionally convergent for symmetric matrices; 9x9 converges in a handful of sweeps).
fn smallest_eigenvector(mut a: [[f64; 9]; 9]) -> [f64; 9] {
    const N: usize = 9;
    let mut v = [[0.0f64; N]; N];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _sweep in 0..60 {
        let off: f64 = (0..N)
            .flat_map(|i| (0..N).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..N - 1 {
            for q in p + 1..N {
                if a[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in a.iter_mut() {
                    let (akp, akq) = (row[p], row[q]);
                    row[p] = c * akp - s * akq;
                    row[q] = s * akp + c * akq;
                }
                let (rp, rq) = (a[p], a[q]);
                for k in 0..N {
                    a[p][k] = c * rp[k] - s * rq[k];
                    a[q][k] = s * rp[k] + c * rq[k];
                }
                for row in v.iter_mut() {
                    let (vkp, vkq) = (row[p], row[q]);
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let k = (0..N).min_by(|&i, &j| a[i][i].total_cmp(&a[j][j])).unwrap_or(0);
    std::array::from_fn(|i| v[i][k])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homography_recovers_a_projective_map() {
        let h = Homography([[1.1, 0.2, 5.0], [-0.1, 0.9, -3.0], [0.001, -0.0005, 1.0]]);
        let src: Vec<P2> = (0..30).map(|i| [(i * 37 % 101) as f64, (i * 53 % 97) as f64]).collect();
        let dst: Vec<P2> = src.iter().map(|p| h.apply(*p)).collect();
        let fit = Homography::fit(&src, &dst).unwrap();
        assert!(rms_residual(&src, &dst, |p| fit.apply(p)) < 1e-6);
        // A similarity cannot explain the projective part.
        let s = Similarity2::fit(&src, &dst).unwrap();
        assert!(rms_residual(&src, &dst, |p| s.apply(p)) > 1.0);
    }

    #[test]
    fn similarity_recovers_rotation_and_scale() {
        let t = Similarity2 { a: 1.5 * 0.3f64.cos(), b: 1.5 * 0.3f64.sin(), tx: 4.0, ty: -2.0 };
        let src: Vec<P2> = (0..10).map(|i| [i as f64, (i * i % 7) as f64]).collect();
        let dst: Vec<P2> = src.iter().map(|p| t.apply(*p)).collect();
        let fit = Similarity2::fit(&src, &dst).unwrap();
        assert!((fit.scale() - 1.5).abs() < 1e-9 && (fit.tx - 4.0).abs() < 1e-9);
    }
}
