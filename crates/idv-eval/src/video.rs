//! Test videos for a browser's fake camera: Chromium's `--use-file-for-fake-video-capture` plays a YUV4MPEG2
//! (`.y4m`) file as the camera, so a browser test can show the hosted page a document or a synthetic person
//! performing the challenge the server issued. **Synthetic data**, as the rest of this crate.
//!
//! A face video is a capture session ([`crate::liveness::synth`]) laid on the video's own clock: frame `k`
//! shows the session at `k / fps` seconds minus `lead_ms`, the time the page waits after the camera opens
//! before its capture clock starts (before it, the person holds still). The session's frames are resampled to
//! the video's constant rate (each video frame shows the latest session frame at or before its time), and
//! a second of stillness after the end keeps a looping player from jumping back to the start mid-capture.

use std::io::Write;

use idv_liveness::ChallengeSpec;
use idv_vision::DecodedImage;

use crate::liveness::synth::{self, AttackKind, Portrait, Session};

/// What a face video shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceVideo {
    /// The person performing the challenge at its cues.
    Genuine,
    /// A printed photo of the person held before the camera (it moves with the hand, it cannot blink or turn).
    PrintedPhoto,
}

/// Writes `frames` as a YUV4MPEG2 stream at `fps` frames per second: 4:2:0 (JPEG siting), BT.601 limited range,
/// the colour space a browser assumes for a camera. Frame sizes must all be the same and even.
pub fn write_y4m(out: &mut impl Write, frames: &[DecodedImage], fps: u32) -> std::io::Result<()> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_owned());
    let first = frames.first().ok_or_else(|| bad("a video needs at least one frame"))?;
    let (w, h) = (first.width() as usize, first.height() as usize);
    if w % 2 != 0 || h % 2 != 0 {
        return Err(bad("y4m 4:2:0 frames need an even width and height"));
    }
    writeln!(out, "YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg")?;
    let mut y = vec![0u8; w * h];
    let (mut u, mut v) = (vec![0u8; w * h / 4], vec![0u8; w * h / 4]);
    for f in frames {
        if f.width() as usize != w || f.height() as usize != h {
            return Err(bad("every frame of a video has the same size"));
        }
        let rgb = f.rgb();
        let px = |x: usize, yy: usize| {
            let i = (yy * w + x) * 3;
            [f32::from(rgb[i]), f32::from(rgb[i + 1]), f32::from(rgb[i + 2])]
        };
        for yy in 0..h {
            for x in 0..w {
                let [r, g, b] = px(x, yy);
                y[yy * w + x] = (16.0 + 0.2568 * r + 0.5041 * g + 0.0979 * b).round().clamp(16.0, 235.0) as u8;
            }
        }
        for cy in 0..h / 2 {
            for cx in 0..w / 2 {
                let mut s = [0.0f32; 3];
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let p = px(2 * cx + dx, 2 * cy + dy);
                    (0..3).for_each(|c| s[c] += p[c] / 4.0);
                }
                let [r, g, b] = s;
                let i = cy * (w / 2) + cx;
                u[i] = (128.0 - 0.1482 * r - 0.2910 * g + 0.4392 * b).round().clamp(16.0, 240.0) as u8;
                v[i] = (128.0 + 0.4392 * r - 0.3678 * g - 0.0714 * b).round().clamp(16.0, 240.0) as u8;
            }
        }
        out.write_all(b"FRAME\n")?;
        out.write_all(&y)?;
        out.write_all(&u)?;
        out.write_all(&v)?;
    }
    out.flush()
}

/// Lays `s` on a video clock at `fps`, starting `lead_ms` before the session's first frame: the frames of a
/// camera that opened `lead_ms` before the capture began, and a second more after it ended. Returns each video
/// frame's session frame index.
pub fn resample(s: &Session, fps: u32, lead_ms: u32) -> Vec<usize> {
    let Some(first) = s.frames.first() else { return Vec::new() };
    let t0 = first.t_ms;
    let end = s.frames.last().map_or(0, |f| f.t_ms - t0) + lead_ms + 1000;
    let step = 1000.0 / fps.max(1) as f64;
    let mut out = Vec::new();
    let mut k = 0usize;
    loop {
        let v = (k as f64 * step).round() as u32;
        if v > end {
            break;
        }
        let session_t = i64::from(v) - i64::from(lead_ms) + i64::from(t0);
        // The latest session frame at or before that time (the first before the capture started).
        out.push(s.frames.partition_point(|f| i64::from(f.t_ms) <= session_t).saturating_sub(1));
        k += 1;
    }
    out
}

/// A face video of `portrait` for `challenge` (see the module documentation). A session frame shown again (the
/// stillness before and after the capture, or where the video's clock runs between two session frames) gets
/// sensor noise of its own each time: a camera never delivers the same frame twice.
pub fn face_video(
    portrait: &Portrait,
    challenge: &ChallengeSpec,
    kind: FaceVideo,
    fps: u32,
    lead_ms: u32,
    seed: u64,
) -> idv_liveness::Result<Vec<DecodedImage>> {
    let session = match kind {
        FaceVideo::Genuine => synth::genuine(portrait, challenge, seed),
        FaceVideo::PrintedPhoto => synth::attack(AttackKind::StaticPhoto, portrait, portrait, challenge, seed),
    };
    let mut rng = synth::Rng::new(seed ^ 0x5EED_F00D);
    let mut shown = vec![false; session.frames.len()];
    let mut frames = Vec::new();
    for i in resample(&session, fps, lead_ms) {
        let img = &session.frames[i].image;
        if !std::mem::replace(&mut shown[i], true) {
            frames.push(img.clone());
            continue;
        }
        let mut rgb = img.rgb().to_vec();
        for p in rgb.iter_mut() {
            let n = (rng.range(-1.0, 1.0) * synth::NOISE_SIGMA).round() as i16;
            *p = (i16::from(*p) + n).clamp(0, 255) as u8;
        }
        frames.push(DecodedImage::from_rgb(img.width(), img.height(), rgb)?);
    }
    Ok(frames)
}

/// A document video: the picture held still (a looping player shows it for as long as the page looks), scaled
/// down to fit `max_w` × `max_h` and cropped to even dimensions.
pub fn still_video(picture: &DecodedImage, max_w: u32, max_h: u32) -> Result<DecodedImage, String> {
    let img = image::RgbImage::from_raw(picture.width(), picture.height(), picture.rgb().to_vec())
        .ok_or("picture buffer size")?;
    let scale = (f64::from(max_w) / f64::from(img.width())).min(f64::from(max_h) / f64::from(img.height())).min(1.0);
    let (w, h) = ((f64::from(img.width()) * scale) as u32 & !1, (f64::from(img.height()) * scale) as u32 & !1);
    let resized = image::imageops::resize(&img, w.max(2), h.max(2), image::imageops::FilterType::Triangle);
    DecodedImage::from_rgb(resized.width(), resized.height(), resized.into_raw()).map_err(|e| e.to_string())
}

/// The hosted page's card frame as fractions of the video frame (`cardRect` in `crates/idv-server/web/app.js`):
/// centred, ID-1 shaped (85.6 × 54 mm), 84% of the width, at most 80% of the height.
pub fn card_frame(w: u32, h: u32) -> (f64, f64, f64, f64) {
    let (w, h) = (f64::from(w), f64::from(h));
    let mut fw = 0.84 * w;
    let mut fh = fw / 1.586;
    if fh > 0.8 * h {
        fh = 0.8 * h;
        fw = fh * 1.586;
    }
    ((w - fw) / 2.0, (h - fh) / 2.0, fw, fh)
}

/// A document held in the page's card frame over a desk: the picture scaled, aspect kept, so its edges fall on
/// the frame's (a passport page, less elongated than a card, a little over the frame's top and bottom and inside
/// its sides), on a dark, slightly textured background of `w` × `h`.
pub fn held_in_frame(picture: &DecodedImage, w: u32, h: u32, seed: u64) -> Result<DecodedImage, String> {
    let (w, h) = (w & !1, h & !1);
    let (fx, fy, fw, fh) = card_frame(w, h);
    let (pw, ph) = (f64::from(picture.width()), f64::from(picture.height()));
    let scale = (fw * 0.97 / pw).min(fh * 1.06 / ph);
    let (dw, dh) = ((pw * scale).round() as u32, (ph * scale).round() as u32);
    let src = image::RgbImage::from_raw(picture.width(), picture.height(), picture.rgb().to_vec())
        .ok_or("picture buffer size")?;
    let doc = image::imageops::resize(&src, dw.max(1), dh.max(1), image::imageops::FilterType::Triangle);
    let mut rng = synth::Rng::new(seed);
    let mut out = image::RgbImage::from_fn(w, h, |_, _| {
        let v = (58.0 + rng.range(-6.0, 6.0)) as u8;
        image::Rgb([v, v.saturating_sub(4), v.saturating_sub(9)])
    });
    let (ox, oy) = ((fx + (fw - f64::from(dw)) / 2.0).round() as i64, (fy + (fh - f64::from(dh)) / 2.0).round() as i64);
    image::imageops::overlay(&mut out, &doc, ox, oy);
    DecodedImage::from_rgb(w, h, out.into_raw()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y4m_header_planes_and_colours() {
        let red = DecodedImage::from_rgb(4, 2, [255u8, 0, 0].repeat(8)).unwrap();
        let mut out = Vec::new();
        write_y4m(&mut out, &[red.clone(), red], 10).unwrap();
        let header = b"YUV4MPEG2 W4 H2 F10:1 Ip A1:1 C420jpeg\n";
        assert!(out.starts_with(header));
        let frame = 6 + 8 + 2 + 2;
        assert_eq!(out.len(), header.len() + 2 * frame);
        let body = &out[header.len() + 6..header.len() + frame];
        // BT.601 limited range: pure red is Y 81, U 90, V 240.
        assert_eq!((body[0], body[8], body[10]), (81, 90, 240));
        let odd = DecodedImage::from_rgb(3, 2, vec![0; 18]).unwrap();
        assert!(write_y4m(&mut Vec::new(), &[odd], 10).is_err());
    }
}
