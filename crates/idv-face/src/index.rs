//! 1:N search over a face library: the nearest registered embeddings to a probe, by cosine (the dot product of
//! L2-normalised embeddings). One trait, so an approximate index can replace the exact one when libraries outgrow
//! it; `cargo run --release -p idv-face --example face_index_bench` measures the exact one at 10k-1M faces.

use crate::embed::EMBEDDING_DIM;

/// A hit: the caller's id for the face, and its cosine with the probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: u64,
    pub cosine: f32,
}

pub trait FaceIndex: Send + Sync {
    /// Adds (or replaces) the face `id`. Vectors that are not [`EMBEDDING_DIM`] long are refused (`false`).
    fn insert(&mut self, id: u64, embedding: &[f32]) -> bool;
    fn remove(&mut self, id: u64) -> bool;
    /// Up to `k` faces with cosine at least `min_cosine`, the closest first.
    fn search(&self, probe: &[f32], k: usize, min_cosine: f32) -> Vec<Hit>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Memory held per face, bytes.
    fn bytes_per_face(&self) -> usize;
}

/// Exact search: every face's dot product with the probe, over one contiguous array (eight lanes at a time, which
/// the compiler turns into SIMD).
#[derive(Debug, Default, Clone)]
pub struct ExactIndex {
    ids: Vec<u64>,
    vectors: Vec<f32>,
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum()
}

impl ExactIndex {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        ExactIndex { ids: Vec::with_capacity(n), vectors: Vec::with_capacity(n * EMBEDDING_DIM) }
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.ids.iter().position(|&x| x == id)
    }
}

impl FaceIndex for ExactIndex {
    fn insert(&mut self, id: u64, embedding: &[f32]) -> bool {
        if embedding.len() != EMBEDDING_DIM || embedding.iter().any(|v| !v.is_finite()) {
            return false;
        }
        if let Some(i) = self.position(id) {
            self.vectors[i * EMBEDDING_DIM..(i + 1) * EMBEDDING_DIM].copy_from_slice(embedding);
        } else {
            self.ids.push(id);
            self.vectors.extend_from_slice(embedding);
        }
        true
    }

    fn remove(&mut self, id: u64) -> bool {
        let Some(i) = self.position(id) else { return false };
        let last = self.ids.len() - 1;
        self.ids.swap_remove(i);
        if i != last {
            let (head, tail) = self.vectors.split_at_mut(last * EMBEDDING_DIM);
            head[i * EMBEDDING_DIM..(i + 1) * EMBEDDING_DIM].copy_from_slice(&tail[..EMBEDDING_DIM]);
        }
        self.vectors.truncate(last * EMBEDDING_DIM);
        true
    }

    fn search(&self, probe: &[f32], k: usize, min_cosine: f32) -> Vec<Hit> {
        if probe.len() != EMBEDDING_DIM || k == 0 {
            return Vec::new();
        }
        let mut hits: Vec<Hit> = Vec::new();
        for (i, v) in self.vectors.chunks_exact(EMBEDDING_DIM).enumerate() {
            let c = dot(probe, v);
            if c >= min_cosine {
                hits.push(Hit { id: self.ids[i], cosine: c.clamp(-1.0, 1.0) });
            }
        }
        hits.sort_by(|a, b| b.cosine.total_cmp(&a.cosine).then(a.id.cmp(&b.id)));
        hits.truncate(k);
        hits
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn bytes_per_face(&self) -> usize {
        EMBEDDING_DIM * std::mem::size_of::<f32>() + std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2654435761).max(1);
        let v: Vec<f32> = (0..EMBEDDING_DIM)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32) - 0.5
            })
            .collect();
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.into_iter().map(|a| a / n).collect()
    }

    #[test]
    fn finds_the_nearest_and_forgets_removed_faces() {
        let mut ix = ExactIndex::new();
        for i in 0..50u32 {
            assert!(ix.insert(u64::from(i), &unit(i)));
        }
        assert!(!ix.insert(99, &[0.0; 3]), "a vector of the wrong size is refused");
        let hits = ix.search(&unit(7), 3, -1.0);
        assert_eq!(hits[0].id, 7);
        assert!((hits[0].cosine - 1.0).abs() < 1e-4);
        assert!(hits.windows(2).all(|w| w[0].cosine >= w[1].cosine));
        assert!(ix.search(&unit(7), 10, 0.9).iter().all(|h| h.id == 7));
        assert!(ix.remove(7) && !ix.remove(7));
        assert!(ix.search(&unit(7), 50, -1.0).iter().all(|h| h.id != 7));
        // The face moved into the removed slot is still found as itself.
        assert_eq!(ix.search(&unit(49), 1, -1.0)[0].id, 49);
        assert_eq!(ix.len(), 49);
        ix.insert(3, &unit(1000));
        assert_eq!(ix.search(&unit(1000), 1, -1.0)[0].id, 3, "insert replaces");
        assert_eq!(ix.len(), 49);
    }
}
