//! SFace (2021dec) embeddings of aligned crops.

use std::sync::Arc;

use idv_vision::{Model, TensorView, VisionError};
use serde::Serialize;

use crate::align::ALIGNED_SIZE;
use crate::error::Result;

/// Length of an SFace embedding.
pub const EMBEDDING_DIM: usize = 128;

/// An L2-normalised face embedding; the dot product of two is their cosine similarity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Normalises `raw` to unit length; fails on a zero or non-finite vector.
    pub fn from_raw(raw: Vec<f32>) -> Result<Self> {
        let norm = raw.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
        if !norm.is_finite() || norm <= f64::EPSILON {
            return Err(VisionError::Runtime("degenerate embedding".into()).into());
        }
        Ok(Self(raw.iter().map(|v| (f64::from(*v) / norm) as f32).collect()))
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// Cosine similarity in -1..1.
    pub fn cosine(&self, other: &Embedding) -> f32 {
        let dot: f64 = self.0.iter().zip(&other.0).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
        dot.clamp(-1.0, 1.0) as f32
    }
}

/// The SFace recogniser over an inference [`Model`].
pub struct SFace {
    model: Arc<dyn Model>,
}

impl SFace {
    pub fn new(model: Arc<dyn Model>) -> Result<Self> {
        if model.input_names() != ["data"] || model.output_names() != ["fc1"] {
            return Err(VisionError::ModelContract {
                model: model.name().to_string(),
                detail: format!(
                    "expected SFace 2021dec tensors data -> fc1, found {:?} -> {:?}",
                    model.input_names(),
                    model.output_names()
                ),
            }
            .into());
        }
        Ok(Self { model })
    }

    /// Embeds an aligned `ALIGNED_SIZE`² RGB crop. The network takes planar RGB in 0..255 without mean or
    /// scale: OpenCV's FaceRecognizerSF::feature calls `blobFromImage(img, 1, Size(112,112), Scalar(), true)`
    /// on a BGR crop, and the `true` (swapRB) turns it into RGB.
    pub fn embed(&self, aligned_rgb: &[u8]) -> Result<Embedding> {
        let plane = ALIGNED_SIZE * ALIGNED_SIZE;
        if aligned_rgb.len() != plane * 3 {
            return Err(VisionError::Runtime(format!(
                "aligned crop has {} bytes, expected {}",
                aligned_rgb.len(),
                plane * 3
            ))
            .into());
        }
        let mut input = vec![0.0f32; plane * 3];
        for (i, px) in aligned_rgb.chunks_exact(3).enumerate() {
            input[i] = f32::from(px[0]);
            input[plane + i] = f32::from(px[1]);
            input[2 * plane + i] = f32::from(px[2]);
        }
        let shape = [1, 3, ALIGNED_SIZE, ALIGNED_SIZE];
        let out = self.model.run(&[("data", TensorView::new(&shape, &input)?)])?;
        let fc1 = out.get("fc1")?;
        if fc1.data.len() != EMBEDDING_DIM {
            return Err(VisionError::ModelContract {
                model: self.model.name().to_string(),
                detail: format!("fc1 has {} values, expected {EMBEDDING_DIM}", fc1.data.len()),
            }
            .into());
        }
        Embedding::from_raw(fc1.data.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_normalised_vectors() {
        let a = Embedding::from_raw(vec![3.0, 4.0]).unwrap();
        let b = Embedding::from_raw(vec![4.0, 3.0]).unwrap();
        assert!((a.cosine(&a) - 1.0).abs() < 1e-6);
        assert!((a.cosine(&b) - 0.96).abs() < 1e-6);
        assert!(Embedding::from_raw(vec![0.0, 0.0]).is_err());
    }
}
