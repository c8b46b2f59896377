//! What the console shows beyond the verdict, kept with a transaction's evidence (sealed blobs, deleted with
//! the images): where the document page and its MRZ sit in the picture, and a filmstrip of the liveness
//! capture. And the one way the console serves a picture: to a session of the transaction's merchant, with an
//! audit entry for each view.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use idv_flow::ImageKind;
use serde::{Deserialize, Serialize};

use super::{PageResult, Session};
use crate::AppState;
use crate::error::ServerError;

/// Blob kinds of the console's records.
pub(crate) const OUTLINE_FRONT: &str = "doc_front_outline";
pub(crate) const OUTLINE_BACK: &str = "doc_back_outline";
pub(crate) const FRAMES: &str = "liveness_frames";
const FRAME: &str = "liveness_frame";
/// Frames kept of a liveness capture: evenly spread, plus the frame each action was seen on.
pub(crate) const FILMSTRIP_FRAMES: usize = 12;

/// A document page in its picture, in the engine's pixel frame (`width` × `height`: the upright picture,
/// upscaled as the engine read it), corners clockwise from top-left.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Outline {
    pub(crate) width: f32,
    pub(crate) height: f32,
    pub(crate) page: [[f32; 2]; 4],
    pub(crate) mrz: Option<[[f32; 2]; 4]>,
    pub(crate) located_by: String,
}

/// The kept frames of a capture: blob id, index in the capture, capture time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Filmstrip {
    pub(crate) total: usize,
    pub(crate) frames: Vec<(String, usize, u32)>,
}

/// A point of the page at fractions (u, v) of its width and height, in picture pixels (bilinear in the corners).
fn on_page(c: &[[f32; 2]; 4], u: f32, v: f32) -> [f32; 2] {
    let lerp = |a: [f32; 2], b: [f32; 2], t: f32| [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
    let top = lerp(c[0], c[1], u);
    let bottom = lerp(c[3], c[2], u);
    lerp(top, bottom, v)
}

/// The outline of a reading: the page's corners and, when a zone was read, the MRZ band of its layout.
pub(crate) fn outline(reading: &idv_doc::DocReading, width: u32, height: u32) -> Outline {
    let (w0, h0) = (width as f32, height as f32);
    let small = w0.min(h0);
    let scale = if small < idv_doc::UPSCALE_TO as f32 { idv_doc::UPSCALE_TO as f32 / small } else { 1.0 };
    let (w, h) = ((w0 * scale).round(), (h0 * scale).round());
    let c = reading.corners;
    let mrz = reading.mrz.as_ref().map(|m| {
        let s = idv_doc::page_shape(m.format);
        let (pw, ph) = s.mm;
        let (x0, x1) = ((s.mrz_left_mm - 1.0) / pw, (pw - s.mrz_left_mm + 1.0) / pw);
        let (y0, y1) = ((ph - s.band_mm) / ph, (ph - s.mrz_bottom_mm + 1.0).min(ph) / ph);
        [on_page(&c, x0, y0), on_page(&c, x1, y0), on_page(&c, x1, y1), on_page(&c, x0, y1)]
    });
    Outline { width: w, height: h, page: c, mrz, located_by: reading.located_by.to_owned() }
}

/// Keeps where the page and its MRZ were found in a document picture (`steps.rs`, after a reading).
pub(crate) async fn keep_doc_outline(
    state: &AppState,
    transaction_id: &str,
    back: bool,
    image: &[u8],
    reading: &idv_doc::DocReading,
    now: i64,
) -> Result<(), ServerError> {
    let bytes = image.to_vec();
    // The upright size: the engine's corners are in the picture as its EXIF orientation turns it.
    let size =
        state.engines.run(move |e| idv_vision::decode(&bytes, &e.doc.limits).map(|d| (d.width(), d.height()))).await?;
    let Ok((w, h)) = size else { return Ok(()) };
    let json = serde_json::to_vec(&outline(reading, w, h)).map_err(ServerError::internal)?;
    state.store.put_blob(transaction_id, if back { OUTLINE_BACK } else { OUTLINE_FRONT }, &json, now).await?;
    Ok(())
}

/// Which frames of a capture of `n` the filmstrip keeps: evenly spread, with the frames the actions were seen on.
pub(crate) fn filmstrip_picks(n: usize, seen: &[usize]) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let even = FILMSTRIP_FRAMES.saturating_sub(seen.len().min(FILMSTRIP_FRAMES / 2)).max(2);
    let mut picks: Vec<usize> = (0..even).map(|k| k * (n - 1) / (even - 1).max(1)).collect();
    picks.extend(seen.iter().copied().filter(|&i| i < n).take(FILMSTRIP_FRAMES / 2));
    picks.sort_unstable();
    picks.dedup();
    picks
}

/// Keeps the filmstrip of an accepted liveness capture (`steps.rs`, with the selfie).
pub(crate) async fn keep_frames(
    state: &AppState,
    transaction_id: &str,
    frames: &[(Vec<u8>, u32)],
    scores: &serde_json::Value,
    now: i64,
) -> Result<(), ServerError> {
    let seen: Vec<usize> = scores["actions"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["frame"].as_u64()).map(|f| f as usize).collect())
        .unwrap_or_default();
    let mut kept = Vec::new();
    for i in filmstrip_picks(frames.len(), &seen) {
        let (bytes, t_ms) = &frames[i];
        kept.push((state.store.put_blob(transaction_id, FRAME, bytes, now).await?, i, *t_ms));
    }
    let strip = Filmstrip { total: frames.len(), frames: kept };
    let json = serde_json::to_vec(&strip).map_err(ServerError::internal)?;
    state.store.put_blob(transaction_id, FRAMES, &json, now).await?;
    Ok(())
}

/// A console record of a transaction (outline, filmstrip), if kept and readable.
pub(crate) async fn record<T: for<'de> Deserialize<'de>>(
    state: &AppState,
    transaction_id: &str,
    kind: &str,
) -> Result<Option<T>, ServerError> {
    let Some(blob) = state.store.blob_of_kind(transaction_id, kind).await? else { return Ok(None) };
    match state.store.get_blob(transaction_id, &blob).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(idv_store::StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The kinds of picture an address names.
pub(crate) fn image_kind(name: &str) -> Option<ImageKind> {
    [ImageKind::DocFront, ImageKind::DocBack, ImageKind::DocPortrait, ImageKind::Selfie]
        .into_iter()
        .find(|k| k.as_str() == name)
}

fn content_type(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xff, 0xd8, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        _ => "application/octet-stream",
    }
}

/// The blob of a picture of a transaction: the one its verdict names, else the newest of its kind (a verdict
/// may be gone with the text while the images stay); a filmstrip frame by its position in the strip.
async fn blob_for(state: &AppState, tx: &idv_store::Transaction, name: &str) -> Result<Option<String>, ServerError> {
    if let Some(n) = name.strip_prefix("frame-") {
        let Ok(n) = n.parse::<usize>() else { return Ok(None) };
        let strip: Option<Filmstrip> = record(state, &tx.id, FRAMES).await?;
        return Ok(strip.and_then(|s| s.frames.get(n).map(|f| f.0.clone())));
    }
    let Some(kind) = image_kind(name) else { return Ok(None) };
    let named = crate::finish::stored_verdict(tx)
        .ok()
        .flatten()
        .and_then(|v| v.decision)
        .and_then(|d| d.evidence.images().remove(&kind));
    match named {
        Some(b) => Ok(Some(b.0)),
        None => Ok(state.store.blob_of_kind(&tx.id, kind.as_str()).await?),
    }
}

/// `GET /console/tx/{id}/image/{name}`: one picture, to the transaction's merchant only, audited.
pub(crate) async fn image(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path((id, name)): Path<(String, String)>,
) -> PageResult {
    let not_found = || Ok(StatusCode::NOT_FOUND.into_response());
    if !super::pages::well_formed_id(&id) || name.len() > 16 {
        return not_found();
    }
    let Some(tx) = super::pages::own(&state, &session, &id).await? else { return not_found() };
    let Some(blob) = blob_for(&state, &tx, &name).await? else { return not_found() };
    let bytes = match state.store.get_blob(&tx.id, &blob).await {
        Ok(b) => b,
        Err(idv_store::StoreError::NotFound(_)) => return not_found(),
        Err(idv_store::StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return not_found();
        }
        Err(e) => return Err(e.into()),
    };
    crate::audit::audit(
        &state,
        &session.actor(),
        "image.viewed",
        Some(&tx.id),
        Some(&tx.merchant_id),
        serde_json::json!({"image": name}),
    )
    .await;
    Ok((
        [
            (header::CONTENT_TYPE, content_type(&bytes)),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filmstrip_spreads_its_frames_and_keeps_the_actions() {
        let p = filmstrip_picks(40, &[17, 33]);
        assert!(p.len() <= FILMSTRIP_FRAMES && p.contains(&0) && p.contains(&39), "{p:?}");
        assert!(p.contains(&17) && p.contains(&33), "{p:?}");
        assert_eq!(filmstrip_picks(3, &[]), [0, 1, 2]);
        assert!(filmstrip_picks(0, &[1]).is_empty());
        assert_eq!(filmstrip_picks(5, &[99]), [0, 1, 2, 3, 4], "an index past the capture is ignored");
    }

    #[test]
    fn page_points_follow_the_corners() {
        let c = [[10.0, 20.0], [110.0, 20.0], [110.0, 90.0], [10.0, 90.0]];
        assert_eq!(on_page(&c, 0.0, 0.0), [10.0, 20.0]);
        assert_eq!(on_page(&c, 1.0, 1.0), [110.0, 90.0]);
        assert_eq!(on_page(&c, 0.5, 0.5), [60.0, 55.0]);
    }
}
