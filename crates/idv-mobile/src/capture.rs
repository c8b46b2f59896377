//! The capture source behind pushed frames: the app pushes every camera frame, this side (on an SDK thread)
//! guides the user, and picks what the round uploads: for a document the sharpest of a few steady, well-placed
//! frames; for the face the frames at the cadence the challenge asks for, from the camera's own timestamps,
//! downscaled and JPEG-encoded as they are picked. A 30 fps camera does not upload 30 frames a second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use idv_protocol::Step as ProtoStep;
use idv_protocol::device::Instruction;
use idv_sdk::{CaptureError, CaptureSource, CapturedFrame, DEFAULT_FRAME_INTERVAL_MS};

use crate::api::{CameraFrame, Challenge, Guidance, Step, VerificationEvent, VerificationOptions};
use crate::frame::Pixels;
use crate::guidance::{self, ANALYSIS_SIDE};

pub type Emit = Arc<dyn Fn(VerificationEvent) + Send + Sync>;

/// Consecutive frames without a problem before a document is taken (the hosted page's `DOC_PASSES_NEEDED`)…
const DOC_PASSES_NEEDED: u32 = 3;
/// …and how many steady frames are compared for the sharpest.
const DOC_STEADY_FRAMES: u32 = 6;
/// Consecutive good face frames before the liveness clock starts, so the first cue finds the user framed.
pub const FACE_READY_FRAMES: u32 = 3;
const DOC_JPEG_QUALITY: u8 = 90;
const FACE_JPEG_QUALITY: u8 = 85;
/// How often the prompt's remaining time is refreshed.
const TICK_MS: u32 = 500;
/// The colour shown once the flash sequence is over (`docs/device-protocol.md` §3: the screen is white).
const WHITE: &str = "#ffffff";

pub struct PushCapture {
    frames: Receiver<CameraFrame>,
    emit: Emit,
    cancelled: Arc<AtomicBool>,
    options: VerificationOptions,
}

impl PushCapture {
    pub fn new(
        frames: Receiver<CameraFrame>,
        emit: Emit,
        cancelled: Arc<AtomicBool>,
        options: VerificationOptions,
    ) -> Self {
        PushCapture { frames, emit, cancelled, options }
    }

    /// The next pushed frame; fails when the user cancels or the camera has gone quiet.
    fn next(&self) -> Result<CameraFrame, CaptureError> {
        let since = Instant::now();
        let quiet = Duration::from_millis(self.options.frame_timeout_ms.max(1));
        loop {
            if self.cancelled.load(Ordering::SeqCst) {
                return Err(CaptureError("cancelled".into()));
            }
            match self.frames.recv_timeout(Duration::from_millis(50)) {
                Ok(f) => return Ok(f),
                Err(RecvTimeoutError::Timeout) if since.elapsed() < quiet => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(CaptureError(format!("no camera frame for {} ms", quiet.as_millis())));
                }
                Err(RecvTimeoutError::Disconnected) => return Err(CaptureError("the camera feed was closed".into())),
            }
        }
    }

    fn guide(&self, step: Step, g: Guidance, last: &mut Option<Guidance>) {
        if *last != Some(g) {
            *last = Some(g);
            (self.emit)(VerificationEvent::Guidance { step, guidance: g });
        }
    }

    fn document(&self, step: Step) -> Result<Vec<CapturedFrame>, CaptureError> {
        let mut last = None;
        let mut steady = 0u32;
        let mut best: Option<(f32, Pixels)> = None;
        while steady < DOC_STEADY_FRAMES {
            let pixels = Pixels::new(self.next()?).map_err(|e| CaptureError(e.to_string()))?;
            let (issue, sharp) = guidance::document(&pixels.gray(ANALYSIS_SIDE));
            self.guide(step, issue, &mut last);
            if issue != Guidance::Ok {
                steady = 0;
                best = None;
                continue;
            }
            steady += 1;
            // The first passes only prove the hand is steady; the sharpest of the rest is sent.
            if steady >= DOC_PASSES_NEEDED && best.as_ref().is_none_or(|(s, _)| sharp > *s) {
                best = Some((sharp, pixels));
            }
        }
        let (_, pixels) = best.expect("steady frames were kept");
        let jpeg = pixels.jpeg(self.options.document_max_side as usize, DOC_JPEG_QUALITY).map_err(CaptureError)?;
        (self.emit)(VerificationEvent::Uploading { step, frames: 1, bytes: jpeg.len() as u64 });
        Ok(vec![CapturedFrame { bytes: jpeg, t_ms: 0 }])
    }

    fn face(&self, instruction: &Instruction) -> Result<Vec<CapturedFrame>, CaptureError> {
        let step = Step::Face;
        let wanted = instruction.frames_wanted.max(1) as usize;
        let interval = instruction
            .challenge
            .as_ref()
            .map(|c| c.frame_interval_ms)
            .filter(|&i| i > 0)
            .unwrap_or(DEFAULT_FRAME_INTERVAL_MS);
        // A frame is taken once its time reaches the next slot, less a fifth of the cadence (camera clocks
        // jitter by a millisecond or two; a whole camera frame early would halve the spacing).
        let early = interval / 5;
        let mut timeline = Timeline::new(instruction);
        let mut last = None;
        let mut ready = 0u32;
        let mut t0: Option<u64> = None;
        let mut previous: Option<u64> = None;
        let mut next_slot = 0u64;
        let mut frames = Vec::with_capacity(wanted);
        let mut bytes = 0u64;
        while frames.len() < wanted {
            let f = self.next()?;
            let ts = f.timestamp_ms;
            // A frame older than the last one (a camera restart, a queued duplicate) cannot be placed in time.
            if previous.is_some_and(|p| ts <= p) {
                continue;
            }
            previous = Some(ts);
            let observed = f.face.clone();
            let pixels = Pixels::new(f).map_err(|e| CaptureError(e.to_string()))?;
            let issue =
                guidance::face(&pixels.gray(ANALYSIS_SIDE), observed.as_ref(), self.options.platform_face_detection);
            self.guide(step, issue, &mut last);
            let start = match t0 {
                Some(t) => t,
                None if ready >= FACE_READY_FRAMES => {
                    t0 = Some(ts);
                    (self.emit)(VerificationEvent::CaptureStarted { step, timestamp_ms: ts });
                    ts
                }
                None => {
                    ready = if issue == Guidance::Ok { ready + 1 } else { 0 };
                    continue;
                }
            };
            let dt = ts - start;
            timeline.advance(u32::try_from(dt).unwrap_or(u32::MAX), &*self.emit);
            if dt + u64::from(early) >= next_slot * u64::from(interval) {
                let jpeg = pixels.jpeg(self.options.face_max_side as usize, FACE_JPEG_QUALITY).map_err(CaptureError)?;
                bytes += jpeg.len() as u64;
                frames.push(CapturedFrame { bytes: jpeg, t_ms: u32::try_from(dt).unwrap_or(u32::MAX) });
                next_slot = (dt + u64::from(early)) / u64::from(interval) + 1;
            }
        }
        timeline.finish(&*self.emit);
        (self.emit)(VerificationEvent::Uploading { step, frames: frames.len() as u32, bytes });
        Ok(frames)
    }
}

impl CaptureSource for PushCapture {
    fn capture(&mut self, instruction: &Instruction) -> Result<Vec<CapturedFrame>, CaptureError> {
        // Frames queued while the last round was on the network belong to no attempt.
        while self.frames.try_recv().is_ok() {}
        let step = Step::from(instruction.step);
        (self.emit)(VerificationEvent::StepStarted {
            step,
            round: instruction.round,
            hint: instruction.hint.clone(),
            attempts_left: instruction.attempts_left,
            challenge: instruction.challenge.as_ref().map(|c| Challenge {
                actions: c.actions.clone(),
                cues_ms: c.cues_ms.clone(),
                colours: c.colours.clone(),
                colour_ms: c.colour_ms,
                frame_interval_ms: c.frame_interval_ms,
                action_window_ms: c.action_window_ms,
                frames_wanted: instruction.frames_wanted,
            }),
        });
        match instruction.step {
            ProtoStep::Face => self.face(instruction),
            ProtoStep::DocFront | ProtoStep::DocBack => self.document(step),
        }
    }

    fn source_name(&self, step: ProtoStep) -> String {
        if step == ProtoStep::Face { "front" } else { "back" }.to_owned()
    }
}

/// The challenge's prompts and colours on the capture clock: what to show at `dt` ms after the first frame.
struct Timeline {
    actions: Vec<String>,
    cues: Vec<u32>,
    window: u32,
    colours: Vec<String>,
    colour_ms: u32,
    next_cue: usize,
    /// The prompt on screen: its index and the last refresh (in ticks since its cue).
    shown: Option<(usize, u32)>,
    colour: Option<usize>,
}

impl Timeline {
    fn new(i: &Instruction) -> Self {
        let c = i.challenge.as_ref();
        Timeline {
            actions: c.map(|c| c.actions.clone()).unwrap_or_default(),
            cues: c.map(|c| c.cues_ms.clone()).unwrap_or_default(),
            window: c.map_or(0, |c| c.action_window_ms),
            colours: c.map(|c| c.colours.clone()).unwrap_or_default(),
            colour_ms: c.map_or(0, |c| c.colour_ms),
            next_cue: 0,
            shown: None,
            colour: None,
        }
    }

    /// A prompt is cleared at the next cue or when its window is over, whichever comes first.
    fn end_of(&self, k: usize) -> u32 {
        let end = self.cues[k].saturating_add(self.window);
        self.cues.get(k + 1).map_or(end, |&next| end.min(next))
    }

    fn advance(&mut self, dt: u32, emit: &(dyn Fn(VerificationEvent) + Send + Sync)) {
        if let Some((k, _)) = self.shown
            && dt >= self.end_of(k)
        {
            emit(VerificationEvent::LivenessActionEnded { index: k as u32 });
            self.shown = None;
        }
        while self.next_cue < self.cues.len().min(self.actions.len()) && dt >= self.cues[self.next_cue] {
            let k = self.next_cue;
            self.next_cue += 1;
            if let Some((prev, _)) = self.shown.take() {
                emit(VerificationEvent::LivenessActionEnded { index: prev as u32 });
            }
            if dt >= self.end_of(k) {
                // The camera skipped the whole window (a stall): the prompt would only mislead now.
                continue;
            }
            emit(self.prompt(k, dt));
            self.shown = Some((k, 0));
        }
        if let Some((k, tick)) = self.shown {
            let now = (dt - self.cues[k]) / TICK_MS;
            if now > tick {
                emit(self.prompt(k, dt));
                self.shown = Some((k, now));
            }
        }
        if !self.colours.is_empty() && self.colour_ms > 0 {
            let idx = (dt / self.colour_ms) as usize;
            let idx = idx.min(self.colours.len());
            if self.colour != Some(idx) {
                self.colour = Some(idx);
                let colour = self.colours.get(idx).map_or(WHITE, String::as_str).to_owned();
                emit(VerificationEvent::ShowColour { colour });
            }
        }
    }

    fn prompt(&self, k: usize, dt: u32) -> VerificationEvent {
        VerificationEvent::LivenessAction {
            index: k as u32,
            action: self.actions[k].clone(),
            remaining_ms: self.cues[k].saturating_add(self.window).saturating_sub(dt),
        }
    }

    /// The capture is over: nothing stays on screen.
    fn finish(&mut self, emit: &(dyn Fn(VerificationEvent) + Send + Sync)) {
        if let Some((k, _)) = self.shown.take() {
            emit(VerificationEvent::LivenessActionEnded { index: k as u32 });
        }
        if !self.colours.is_empty() && self.colour != Some(self.colours.len()) {
            self.colour = Some(self.colours.len());
            emit(VerificationEvent::ShowColour { colour: WHITE.to_owned() });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc::sync_channel;

    use idv_protocol::device::Challenge as WireChallenge;

    use super::*;
    use crate::api::{FaceObservation, PixelFormat, Rect};

    fn face_instruction(frames_wanted: u32, colours: Vec<String>) -> Instruction {
        Instruction {
            round: 2,
            nonce: "n".into(),
            step: ProtoStep::Face,
            hint: "Look at the screen".into(),
            frames_wanted,
            challenge: Some(WireChallenge {
                actions: vec!["blink".into(), "head_left".into()],
                cues_ms: vec![300, 1000],
                colours,
                colour_ms: 300,
                frame_interval_ms: 100,
                action_window_ms: 1500,
            }),
            attempts_left: 3,
        }
    }

    fn recorder() -> (Emit, Arc<Mutex<Vec<VerificationEvent>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        (Arc::new(move |e| s.lock().unwrap().push(e)), seen)
    }

    fn textured(w: u32, h: u32) -> Vec<u8> {
        (0..w * h).flat_map(|i| if (i / 2 + i / w).is_multiple_of(2) { [180u8; 3] } else { [110u8; 3] }).collect()
    }

    fn options() -> VerificationOptions {
        VerificationOptions { platform_face_detection: true, frame_timeout_ms: 2000, ..crate::default_options() }
    }

    #[test]
    fn face_frames_follow_the_cadence_and_the_prompts_their_cues() {
        let (emit, seen) = recorder();
        let (tx, rx) = sync_channel(1000);
        let good = FaceObservation {
            bounds: Rect { left: 0.3, top: 0.3, width: 0.4, height: 0.4 },
            yaw_degrees: Some(0.0),
            roll_degrees: None,
        };
        let far = FaceObservation { bounds: Rect { left: 0.45, top: 0.45, width: 0.1, height: 0.1 }, ..good.clone() };
        let pixels = textured(64, 48);
        // 30 fps from t = 5000 ms: two frames too far, then framed; the capture starts after three good ones.
        for n in 0..120u64 {
            let face = if n < 2 { far.clone() } else { good.clone() };
            let frame = CameraFrame {
                bytes: pixels.clone(),
                width: 64,
                height: 48,
                format: PixelFormat::Rgb,
                row_stride: 0,
                timestamp_ms: 5000 + (n * 1000 + 15) / 30,
                rotation: 0,
                face: Some(face),
            };
            tx.send(frame).unwrap();
        }
        let colours: Vec<String> = ["#ff0000", "#00ff00", "#0000ff"].map(String::from).to_vec();
        let cap = PushCapture::new(rx, emit, Arc::default(), options());
        let frames = cap.face(&face_instruction(20, colours)).unwrap();
        let t: Vec<u32> = frames.iter().map(|f| f.t_ms).collect();
        assert_eq!(t, (0..20).map(|k| k * 100).collect::<Vec<_>>(), "one frame per 100 ms slot");
        let ev = seen.lock().unwrap().clone();
        let started = ev.iter().position(|e| matches!(e, VerificationEvent::CaptureStarted { .. })).unwrap();
        assert_eq!(
            ev[..started],
            [
                VerificationEvent::Guidance { step: Step::Face, guidance: Guidance::FaceTooFar },
                VerificationEvent::Guidance { step: Step::Face, guidance: Guidance::Ok },
            ]
        );
        // Frame 5 (the third good one was frame 4) started the clock at 5000 + 167.
        assert_eq!(ev[started], VerificationEvent::CaptureStarted { step: Step::Face, timestamp_ms: 5167 });
        let shown: Vec<String> = ev
            .iter()
            .filter_map(|e| match e {
                VerificationEvent::LivenessAction { index, remaining_ms, .. } => {
                    Some(format!("a{index}:{remaining_ms}"))
                }
                VerificationEvent::LivenessActionEnded { index } => Some(format!("end{index}")),
                VerificationEvent::ShowColour { colour } => Some(colour.clone()),
                _ => None,
            })
            .collect();
        // Colours every 300 ms from the first frame, white after the third; cue 0 at 300 ms (its window cut short
        // by cue 1 at 1000), refreshed at 800; cue 1 refreshed at 1500 and cleared when the capture ends.
        assert_eq!(
            shown,
            ["#ff0000", "a0:1500", "#00ff00", "#0000ff", "a0:1000", "#ffffff", "end0", "a1:1500", "a1:1000", "end1"],
        );
        assert!(matches!(ev.last(), Some(VerificationEvent::Uploading { frames: 20, .. })));
    }

    #[test]
    fn the_sharpest_steady_document_frame_is_sent() {
        let (emit, seen) = recorder();
        let (tx, rx) = sync_channel(100);
        let (w, h) = (320u32, 240u32);
        let r = guidance::document_frame(w, h);
        let card = |ink: u8| {
            let mut b = vec![40u8; (w * h * 3) as usize];
            for y in 0..h {
                for x in 0..w {
                    let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
                    if fx >= r.left && fx < r.left + r.width && fy >= r.top && fy < r.top + r.height {
                        let v = if (x / 3 + y / 4) % 5 == 0 { ink } else { 220 };
                        b[((y * w + x) * 3) as usize..][..3].copy_from_slice(&[v; 3]);
                    }
                }
            }
            b
        };
        let frame = |bytes: Vec<u8>, n: u64| CameraFrame {
            bytes,
            width: w,
            height: h,
            format: PixelFormat::Rgb,
            row_stride: 0,
            timestamp_ms: n * 33,
            rotation: 0,
            face: None,
        };
        tx.send(frame(vec![10u8; (w * h * 3) as usize], 0)).unwrap();
        // Six steady frames; the fourth has the strongest print: it is the one sent.
        for (n, ink) in [(1, 120u8), (2, 120), (3, 120), (4, 20), (5, 120), (6, 120)] {
            tx.send(frame(card(ink), n)).unwrap();
        }
        let cap = PushCapture::new(rx, emit, Arc::default(), options());
        let sent = cap.document(Step::DocumentFront).unwrap();
        assert_eq!(sent.len(), 1);
        let expect = Pixels::new(frame(card(20), 0)).unwrap().jpeg(1920, DOC_JPEG_QUALITY).unwrap();
        assert_eq!(sent[0].bytes, expect);
        let ev = seen.lock().unwrap().clone();
        assert_eq!(ev[0], VerificationEvent::Guidance { step: Step::DocumentFront, guidance: Guidance::TooDark });
        assert_eq!(ev[1], VerificationEvent::Guidance { step: Step::DocumentFront, guidance: Guidance::Ok });
    }

    #[test]
    fn a_cancel_or_a_quiet_camera_ends_the_wait() {
        let (emit, _) = recorder();
        let (_tx, rx) = sync_channel(1);
        let cancelled = Arc::new(AtomicBool::new(false));
        let cap =
            PushCapture::new(rx, emit, cancelled.clone(), VerificationOptions { frame_timeout_ms: 100, ..options() });
        let t = Instant::now();
        assert!(cap.next().unwrap_err().0.contains("no camera frame"));
        assert!(t.elapsed() < Duration::from_secs(2));
        cancelled.store(true, Ordering::SeqCst);
        assert_eq!(cap.next().unwrap_err().0, "cancelled");
    }
}
