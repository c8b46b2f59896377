//! Synthetic genuine users and attacks, rendered from still portraits. Used by the tests, the evaluation
//! and the device simulator. **Synthetic data**: it exercises the pipeline and every rule end to end, it
//! does not measure how the checks fare against real people and real attack instruments.
//!
//! A genuine session warps the portrait over its face mesh: head turns rotate the mesh in 3-D around a pivot
//! behind the face and rasterise it with a depth buffer (real parallax: the nose moves more than the ears),
//! blinks move the upper eyelids onto the lower ones and stretch the lid skin over the eye, an open mouth
//! drops the lower lip and jaw and fills the gap dark, farther/closer scale the head about its centre, and
//! the screen's colour lights the face (22% of its albedo) more than the background (3%). Small head sway,
//! sensor noise (σ 2 grey levels), exposure flicker and ±8% frame-time jitter make consecutive frames differ
//! as a camera's do.

mod portrait;
mod render;
mod rng;

use std::io::Cursor;

use idv_vision::DecodedImage;

pub use portrait::{HeadState, Portrait};
pub use render::WarpMesh;
pub use rng::Rng;

use idv_liveness::{Action, ChallengeSpec, FrameInput, LivenessError, ReasonCode, Result};

/// Sensor noise of the rendered frames, grey levels.
pub const NOISE_SIGMA: f32 = 2.0;

pub use idv_liveness::flash::PALETTE;

/// A rendered capture and the challenge it is to be verified against.
#[derive(Debug, Clone)]
pub struct Session {
    pub label: String,
    pub challenge: ChallengeSpec,
    pub frames: Vec<FrameInput>,
}

impl Session {
    /// The frames as JPEG files with their capture times, as a device would upload them (e.g. to replay a
    /// session against the server in another round).
    pub fn encode_jpeg(&self, quality: u8) -> Result<Vec<(Vec<u8>, u32)>> {
        self.frames.iter().map(|f| Ok((encode_jpeg(&f.image, quality)?, f.t_ms))).collect()
    }
}

/// JPEG-encodes a frame.
pub fn encode_jpeg(img: &DecodedImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut out), quality);
    image::ImageEncoder::write_image(enc, img.rgb(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
        .map_err(|e| LivenessError::Vision(idv_vision::VisionError::Corrupt(e.to_string())))?;
    Ok(out)
}

/// A random challenge over `actions` (in the given order) with `colours` flash colours and the actions' cues
/// drawn as the server draws them, each colour held [`idv_liveness::flash::COLOUR_MS`], 100 ms cadence and
/// [`idv_liveness::ACTION_WINDOW_MS`] per action.
pub fn challenge(actions: &[Action], colours: usize, rng: &mut Rng) -> ChallengeSpec {
    let colours = idv_liveness::flash::colour_sequence(colours, || rng.next_u64());
    // The cues come from a stream derived from `rng` without advancing it: every other draw of a seeded
    // evaluation (the sessions' seeds, amplitudes, noise) stays what it was before challenges had cues, so
    // its results stay comparable.
    let mut cue_rng = Rng::new(rng.clone().next_u64() ^ 0xC0E5_C0E5);
    ChallengeSpec {
        actions: actions.to_vec(),
        cues_ms: idv_liveness::draw_cues(actions.len(), idv_liveness::ACTION_WINDOW_MS, || cue_rng.next_u64()),
        colours,
        colour_ms: idv_liveness::flash::COLOUR_MS,
        frame_interval_ms: 100,
        action_window_ms: idv_liveness::ACTION_WINDOW_MS,
    }
}

fn trapezoid(t: f32, up: f32, hold: f32, down: f32) -> f32 {
    let s = |x: f32| {
        let x = x.clamp(0.0, 1.0);
        x * x * (3.0 - 2.0 * x)
    };
    if t < 0.0 {
        0.0
    } else if t < up {
        s(t / up)
    } else if t < up + hold {
        1.0
    } else {
        1.0 - s((t - up - hold) / down)
    }
}

/// Phase lengths (rise, hold, fall) of an action, milliseconds, at a given frame interval.
fn phases(a: Action, interval: f32) -> (f32, f32, f32) {
    match a {
        // A voluntary blink holds the lids shut long enough for at least one frame to see it.
        Action::Blink => (100.0, (1.6 * interval).max(160.0), 150.0),
        Action::OpenMouth => (250.0, 500.0, 250.0),
        Action::HeadLeft | Action::HeadRight => (550.0, 350.0, 550.0),
        Action::Farther | Action::Closer => (700.0, 350.0, 700.0),
    }
}

/// The head states of a user performing `order` (normally the challenge's actions) at the challenge's
/// cadence, with reaction times, amplitudes, sway and timing jitter drawn from `rng`. Action `k` of `order`
/// starts a human reaction time (250-450 ms) after the challenge's cue `k`, as the device shows it.
pub fn script(spec: &ChallengeSpec, order: &[Action], rng: &mut Rng) -> Vec<(u32, HeadState)> {
    script_at(spec, order, &spec.cues_ms, rng)
}

/// [`script`] with the actions performed at `cues_ms` (ms after the first frame) instead of the challenge's
/// cues: a capture made for another challenge, or an attacker guessing the times.
pub fn script_at(spec: &ChallengeSpec, order: &[Action], cues_ms: &[u32], rng: &mut Rng) -> Vec<(u32, HeadState)> {
    let e = spec.frame_interval_ms as f32;
    let t_first = rng.range(120.0, 300.0);
    // Without cues (a flash-only challenge, or more actions than cues) the user acts in their own rhythm.
    let mut t = t_first + rng.range(300.0, 500.0);
    let mut acts = Vec::new();
    for (k, &a) in order.iter().enumerate() {
        let reaction = rng.range(250.0, 450.0);
        t = match cues_ms.get(k) {
            Some(&cue) => t_first + cue as f32 + reaction,
            None => t + reaction,
        };
        let (u, h, d) = phases(a, e);
        let amp = match a {
            Action::HeadLeft | Action::HeadRight => rng.range(24.0, 32.0),
            Action::Farther => rng.range(0.68, 0.76),
            Action::Closer => rng.range(1.28, 1.36),
            Action::Blink => 1.0,
            _ => rng.range(0.9, 1.0),
        };
        acts.push((a, t, u, h, d, amp));
        t += u + h + d;
    }
    // The screen and the camera lag: the face shows a colour this long after the device put it on screen.
    let latency = rng.range(0.0, 120.0);
    let flash_ms = spec.colours.len() as f32 * spec.colour_ms as f32;
    let end = (t + rng.range(250.0, 400.0)).max(t_first + flash_ms + latency + e);
    let phase: [f32; 5] = std::array::from_fn(|_| rng.range(0.0, std::f32::consts::TAU));
    let mut frames = Vec::new();
    let mut tf = t_first;
    let t0 = t_first.round() as u32;
    while tf <= end {
        let ms = tf.round() as u32;
        let w = |period: f32, k: usize| (std::f32::consts::TAU * tf / period + phase[k]).sin();
        let mut st = HeadState {
            yaw: 1.5 * w(2300.0, 0),
            pitch: 1.2 * w(3100.0, 1),
            roll: 1.0 * w(2700.0, 2),
            tx: 2.0 * w(1900.0, 3),
            ty: 1.5 * w(2900.0, 4),
            flash: spec.colour_at(t0, (tf - latency).max(0.0).round() as u32),
            ..HeadState::default()
        };
        for &(a, start, u, h, d, amp) in &acts {
            let k = trapezoid(tf - start, u, h, d);
            match a {
                Action::Blink => st.eyes_closed = st.eyes_closed.max(k * amp),
                Action::OpenMouth => st.mouth_open = st.mouth_open.max(k * amp),
                Action::HeadLeft => st.yaw += k * amp,
                Action::HeadRight => st.yaw -= k * amp,
                Action::Farther | Action::Closer => st.scale *= 1.0 + k * (amp - 1.0),
            }
        }
        frames.push((ms, st));
        tf += e * (1.0 + rng.range(-0.08, 0.08));
    }
    frames
}

/// A genuine user performing `spec` in front of the camera.
pub fn genuine(p: &Portrait, spec: &ChallengeSpec, seed: u64) -> Session {
    let mut rng = Rng::new(seed);
    let frames = script(spec, &spec.actions, &mut rng)
        .into_iter()
        .map(|(t_ms, st)| FrameInput { image: p.render(&st, &mut rng, NOISE_SIGMA), t_ms })
        .collect();
    Session { label: format!("genuine {} {}", p.name, names(&spec.actions)), challenge: spec.clone(), frames }
}

fn names(a: &[Action]) -> String {
    let mut s = a.iter().map(|a| a.name()).collect::<Vec<_>>().join(",");
    if s.is_empty() {
        s.push('-');
    }
    s
}

/// How much earlier than its cue a [`AttackKind::ShiftedTiming`] capture performs each action: the actions then
/// complete between 150 ms before and 150 ms after the cue, before the window opens (cue + 300 ms) and after the
/// previous window closed (the cues are at least 2 s apart).
pub const SHIFT_MS: u32 = 700;

/// Kinds of attack the generator renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttackKind {
    /// The portrait held still in front of the camera (a printed photo): no action happens.
    StaticPhoto,
    /// The photo tilted and moved to imitate the actions: planar motion.
    TiltedPhoto,
    /// A genuine capture made for another challenge (other colours), submitted again.
    Replay,
    /// A video of the user performing the right actions, shown on a screen (or a photo) held in front of the
    /// camera: the flashed colours light the picture as a whole, face and surroundings alike.
    ScreenReplay,
    /// A genuine user performing the actions in another order (reversed).
    WrongOrder,
    /// The right actions at the wrong times: each performed [`SHIFT_MS`] before the user would react to its cue,
    /// so it completes just before its window opens (a capture made for other cues, or an attacker anticipating
    /// them; the nearest miss on the early side that lands in no other window).
    ShiftedTiming,
    /// Another person's face replaces the user's halfway through.
    IdentitySwap,
    /// Some frames are bit-identical copies of an earlier one.
    DuplicateFrames,
    /// A run of frames are near-identical copies (a still picture re-sent with a few changed bytes).
    FrozenFrames,
    /// Frames whose timestamps are spaced far tighter than the requested cadence.
    BadTimestamps,
    /// The frames of another genuine session of the same user (made for the same actions), re-encoded as an
    /// attacker would to escape the byte digests: rescaled, cropped and saved again as JPEG ([`reencode`]).
    /// Only the capture-fingerprint registry stops it when the challenge has no flash colours: the engine alone
    /// sees a live session.
    ReencodedReplay,
}

impl AttackKind {
    pub const ALL: [AttackKind; 11] = [
        AttackKind::StaticPhoto,
        AttackKind::TiltedPhoto,
        AttackKind::Replay,
        AttackKind::ScreenReplay,
        AttackKind::WrongOrder,
        AttackKind::ShiftedTiming,
        AttackKind::IdentitySwap,
        AttackKind::DuplicateFrames,
        AttackKind::FrozenFrames,
        AttackKind::BadTimestamps,
        AttackKind::ReencodedReplay,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AttackKind::StaticPhoto => "static_photo",
            AttackKind::TiltedPhoto => "tilted_photo",
            AttackKind::Replay => "replay",
            AttackKind::ScreenReplay => "screen_replay",
            AttackKind::WrongOrder => "wrong_order",
            AttackKind::ShiftedTiming => "shifted_timing",
            AttackKind::IdentitySwap => "identity_swap",
            AttackKind::DuplicateFrames => "duplicate_frames",
            AttackKind::FrozenFrames => "frozen_frames",
            AttackKind::BadTimestamps => "bad_timestamps",
            AttackKind::ReencodedReplay => "reencoded_replay",
        }
    }

    /// The reason the engine must give for this attack.
    pub fn expected(self) -> ReasonCode {
        match self {
            AttackKind::StaticPhoto => ReasonCode::ActionMissing,
            AttackKind::TiltedPhoto => ReasonCode::PlanarMotion,
            AttackKind::Replay | AttackKind::ScreenReplay => ReasonCode::ColourMismatch,
            AttackKind::WrongOrder => ReasonCode::ActionOrder,
            AttackKind::ShiftedTiming => ReasonCode::ActionMissing,
            AttackKind::IdentitySwap => ReasonCode::IdentityChanged,
            AttackKind::DuplicateFrames => ReasonCode::DuplicateFrames,
            AttackKind::FrozenFrames => ReasonCode::FrozenFrames,
            AttackKind::BadTimestamps => ReasonCode::FrameRateMismatch,
            AttackKind::ReencodedReplay => ReasonCode::CaptureReplayed,
        }
    }

    /// Whether the attack can be rendered for this challenge (a replay needs flash colours to be told apart
    /// from its original, a wrong order needs two actions, a tilted photo imitates a head turn).
    pub fn applies_to(self, spec: &ChallengeSpec) -> bool {
        match self {
            AttackKind::Replay | AttackKind::ScreenReplay => spec.colours.len() >= 4,
            AttackKind::WrongOrder => spec.actions.len() >= 2,
            AttackKind::ShiftedTiming => !spec.actions.is_empty(),
            AttackKind::TiltedPhoto => spec.actions.iter().any(|a| matches!(a, Action::HeadLeft | Action::HeadRight)),
            _ => true,
        }
    }
}

/// A flat photo of the base frame seen by a camera of focal length `f` pixels, rotated by `theta` about the
/// vertical axis through the face centre and moved by (tx, ty); the room around it is a plain grey wall.
fn photo_view(p: &Portrait, theta: f32, tx: f32, ty: f32) -> Vec<u8> {
    let img = &p.base;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let f = w as f32 * 1.2;
    let c = p.head_centre();
    let (ct, st) = (theta.cos(), theta.sin());
    let mut out = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (x as f32 + 0.5 - c[0] - tx, y as f32 + 0.5 - c[1] - ty);
            // Inverse of u = f·X·cosθ / (f + X·sinθ), v = f·Y / (f + X·sinθ).
            let den = f * ct - u * st;
            let k = (y * w + x) * 3;
            let wall = [118u8, 121, 125];
            if den <= 1e-3 {
                out[k..k + 3].copy_from_slice(&wall);
                continue;
            }
            let big_x = u * f / den;
            let big_y = v * (f + big_x * st) / f;
            let (sx, sy) = (big_x + c[0], big_y + c[1]);
            if sx < 0.0 || sy < 0.0 || sx >= w as f32 || sy >= h as f32 {
                out[k..k + 3].copy_from_slice(&wall);
                continue;
            }
            let px = img.bilinear(sx - 0.5, sy - 0.5);
            for ch in 0..3 {
                out[k + ch] = px[ch].round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// Renders an attack of `kind` on `spec` with portrait `p` (and `other`, the impostor, for identity swaps).
pub fn attack(kind: AttackKind, p: &Portrait, other: &Portrait, spec: &ChallengeSpec, seed: u64) -> Session {
    let mut rng = Rng::new(seed ^ 0x00A7_7AC4);
    let label = format!("{} {} {}", kind.name(), p.name, names(&spec.actions));
    let (w, h) = (p.base.width(), p.base.height());
    let frames: Vec<FrameInput> = match kind {
        AttackKind::StaticPhoto | AttackKind::TiltedPhoto => {
            // The attacker moves the photo along the script of a genuine user: head turns become tilts.
            let plan = script(spec, &spec.actions, &mut rng);
            plan.into_iter()
                .map(|(t_ms, st)| {
                    let mut rgb = if kind == AttackKind::TiltedPhoto {
                        photo_view(p, (st.yaw * 1.6).to_radians(), st.tx * 3.0, st.ty * 3.0)
                    } else {
                        let still = HeadState { roll: st.roll, tx: st.tx, ty: st.ty, ..HeadState::default() };
                        p.render_lit(&still, &mut rng, 0.0, 0.0, 0.0).rgb().to_vec()
                    };
                    // Screen light falls on the photo and its surroundings alike.
                    if let Some(c) = st.flash {
                        let mean = (u32::from(c[0]) + u32::from(c[1]) + u32::from(c[2])) as f32 / 765.0;
                        for px in rgb.chunks_exact_mut(3) {
                            for ch in 0..3 {
                                let k = 0.08 * f32::from(c[ch]) / 255.0;
                                px[ch] = (f32::from(px[ch]) * (1.0 + k) / (1.0 + 0.08 * mean)).round().min(255.0) as u8;
                            }
                        }
                    }
                    render::noise(&mut rgb, &mut rng, NOISE_SIGMA);
                    FrameInput { image: DecodedImage::from_rgb(w, h, rgb).expect("frame size"), t_ms }
                })
                .collect()
        }
        AttackKind::Replay => {
            // The capture was made for an earlier challenge with the same actions and other colours.
            let earlier = challenge(&spec.actions, spec.colours.len(), &mut Rng::new(seed.wrapping_add(77)));
            genuine(p, &earlier, seed.wrapping_add(1)).frames
        }
        AttackKind::ScreenReplay => script(spec, &spec.actions, &mut rng)
            .into_iter()
            .map(|(t_ms, st)| FrameInput { image: p.render_lit(&st, &mut rng, NOISE_SIGMA, 0.15, 0.15), t_ms })
            .collect(),
        AttackKind::ShiftedTiming => {
            let early: Vec<u32> = spec.cues_ms.iter().map(|&c| c.saturating_sub(SHIFT_MS)).collect();
            script_at(spec, &spec.actions, &early, &mut rng)
                .into_iter()
                .map(|(t_ms, st)| FrameInput { image: p.render(&st, &mut rng, NOISE_SIGMA), t_ms })
                .collect()
        }
        AttackKind::WrongOrder => {
            let order: Vec<Action> = spec.actions.iter().rev().copied().collect();
            script(spec, &order, &mut rng)
                .into_iter()
                .map(|(t_ms, st)| FrameInput { image: p.render(&st, &mut rng, NOISE_SIGMA), t_ms })
                .collect()
        }
        AttackKind::IdentitySwap => {
            let plan = script(spec, &spec.actions, &mut rng);
            let half = plan.len() / 2;
            plan.into_iter()
                .enumerate()
                .map(|(i, (t_ms, st))| {
                    let who = if i < half { p } else { other };
                    FrameInput { image: who.render(&st, &mut rng, NOISE_SIGMA), t_ms }
                })
                .collect()
        }
        AttackKind::DuplicateFrames | AttackKind::FrozenFrames | AttackKind::BadTimestamps => {
            let mut frames = genuine(p, spec, seed).frames;
            let k = frames.len() / 3;
            match kind {
                AttackKind::DuplicateFrames => {
                    for j in k + 1..(k + 4).min(frames.len()) {
                        frames[j].image = frames[k].image.clone();
                    }
                }
                AttackKind::FrozenFrames => {
                    for j in k + 1..(k + 5).min(frames.len()) {
                        let mut rgb = frames[k].image.rgb().to_vec();
                        for _ in 0..20 {
                            let i = (rng.next_u64() % rgb.len() as u64) as usize;
                            rgb[i] = rgb[i].saturating_add(1);
                        }
                        frames[j].image = DecodedImage::from_rgb(w, h, rgb).expect("frame size");
                    }
                }
                _ => {
                    let t0 = frames[0].t_ms;
                    for f in &mut frames {
                        f.t_ms = t0 + (f.t_ms - t0) * 2 / 5;
                    }
                }
            }
            frames
        }
        // The user's earlier session for the same challenge; the caller registers its fingerprint, as the server
        // did in that session's transaction.
        AttackKind::ReencodedReplay => reencode(&genuine(p, spec, seed.wrapping_add(1)), &mut rng).frames,
    };
    Session { label, challenge: spec.clone(), frames }
}

/// `s` re-encoded as a replay that dodges byte digests: rescaled ×0.9, cropped by 1-4 pixels on each side (the
/// same crop for the whole capture, as a screen recording or an editing tool would) and saved as JPEG at a
/// quality from 70 to 85, then decoded again.
pub fn reencode(s: &Session, rng: &mut Rng) -> Session {
    let crop: [u32; 4] = std::array::from_fn(|_| rng.range(1.0, 5.0) as u32);
    let quality = rng.range(70.0, 86.0) as u8;
    let frames = s
        .frames
        .iter()
        .map(|f| {
            let img = image::RgbImage::from_raw(f.image.width(), f.image.height(), f.image.rgb().to_vec())
                .expect("frame size");
            let (w, h) = ((img.width() as f32 * 0.9).round() as u32, (img.height() as f32 * 0.9).round() as u32);
            let small = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
            let cut = image::imageops::crop_imm(&small, crop[0], crop[1], w - crop[0] - crop[2], h - crop[1] - crop[3])
                .to_image();
            let (cw, ch) = cut.dimensions();
            let jpeg = encode_jpeg(&DecodedImage::from_rgb(cw, ch, cut.into_raw()).expect("frame size"), quality)
                .expect("JPEG encoding of an RGB frame");
            let back = image::load_from_memory(&jpeg).expect("JPEG just encoded").to_rgb8();
            let (bw, bh) = back.dimensions();
            FrameInput { image: DecodedImage::from_rgb(bw, bh, back.into_raw()).expect("frame size"), t_ms: f.t_ms }
        })
        .collect();
    Session { label: format!("{} reencoded q{quality}", s.label), challenge: s.challenge.clone(), frames }
}
