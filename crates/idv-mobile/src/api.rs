//! The types the bindings expose (Kotlin data classes, Swift structs, Python dataclasses).

/// Which platform runs the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Platform {
    Android,
    Ios,
}

/// Facts about the device that only the platform layer knows.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceInfo {
    pub platform: Platform,
    /// `Build.MODEL` (`Pixel 7`) or the `utsname` machine (`iPhone15,2`).
    pub model: String,
    /// `Build.VERSION.RELEASE` (`14`) or `UIDevice.systemVersion` (`17.4`).
    pub os_version: String,
    /// The application id (`com.example.shop`, the bundle identifier).
    pub app_id: String,
    pub app_version: String,
}

/// Pixel layout of a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PixelFormat {
    /// Y plane then interleaved V/U at half resolution (Android's camera format; CameraX `YUV_420_888` is
    /// repacked to it by the Kotlin facade).
    Nv21,
    /// 4 bytes per pixel, B G R A (iOS `kCVPixelFormatType_32BGRA`).
    Bgra,
    /// 3 bytes per pixel, R G B.
    Rgb,
    /// A JPEG file's bytes (a still capture); `width`, `height` and `row_stride` are ignored.
    Jpeg,
}

/// A rectangle in fractions (0-1) of the upright frame, origin top left.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Rect {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

/// The face the platform's own detector found in the frame (ML Kit / `android.media.FaceDetector`, iOS Vision
/// `VNDetectFaceRectanglesRequest`), in the upright frame's coordinates.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FaceObservation {
    pub bounds: Rect,
    /// Head turn, degrees, positive to the user's left; unknown when the detector does not estimate it.
    pub yaw_degrees: Option<f32>,
    /// Head tilt in the image plane, degrees.
    pub roll_degrees: Option<f32>,
}

/// One camera frame, as the camera delivered it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CameraFrame {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    /// Bytes per row of the (first) plane; 0 when rows are packed.
    pub row_stride: u32,
    /// The camera's capture time in milliseconds (any monotonic clock: `ImageProxy.imageInfo.timestamp`,
    /// `CMSampleBuffer` presentation time). The liveness clock runs on it, so the server sees when frames were
    /// taken, not when they were processed.
    pub timestamp_ms: u64,
    /// Degrees clockwise that turn the buffer upright: 0, 90, 180 or 270.
    pub rotation: u32,
    /// What the platform's face detector saw; `None` when it found no face or is not run
    /// (`VerificationOptions::platform_face_detection` tells which).
    pub face: Option<FaceObservation>,
}

/// A capture step of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Step {
    DocumentFront,
    DocumentBack,
    Face,
}

impl From<idv_protocol::Step> for Step {
    fn from(s: idv_protocol::Step) -> Self {
        match s {
            idv_protocol::Step::DocFront => Step::DocumentFront,
            idv_protocol::Step::DocBack => Step::DocumentBack,
            idv_protocol::Step::Face => Step::Face,
        }
    }
}

/// What the user should do now, from the on-device checks; `Ok` when nothing needs fixing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Guidance {
    Ok,
    TooDark,
    Glare,
    DocumentNotInFrame,
    TooBlurry,
    NoFace,
    FaceTooFar,
    FaceTooClose,
    FaceOffCentre,
    FaceNotFrontal,
}

/// The face step's liveness challenge, as the server issued it (`docs/device-protocol.md` §3). The SDK emits the
/// prompts and colours at their times; the app may use this to prepare its screen (never to show the cue times).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Challenge {
    pub actions: Vec<String>,
    pub cues_ms: Vec<u32>,
    pub colours: Vec<String>,
    pub colour_ms: u32,
    pub frame_interval_ms: u32,
    pub action_window_ms: u32,
    pub frames_wanted: u32,
}

/// How a verification ended.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerificationResult {
    /// The official SDK's result codes (`docs/device-protocol.md` §7): 1000 pass suggested, 1001 fail suggested,
    /// 1003 initialisation failed, 1005 network, 1006 cancelled or timed out, … Confirm with CheckResult.
    pub result_code: u32,
    pub transaction_id: String,
    /// The device API's error code the session ended on, if any.
    pub error_code: Option<String>,
    /// For the app's logs; never a verdict detail.
    pub message: String,
}

/// Everything the SDK reports, in order, on its own threads.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum VerificationEvent {
    /// A capture attempt of `step` begins: push frames of it. `challenge` for the face step.
    StepStarted {
        step: Step,
        round: u32,
        hint: String,
        attempts_left: u32,
        challenge: Option<Challenge>,
    },
    /// The on-device checks changed their advice (sent on change only).
    Guidance {
        step: Step,
        guidance: Guidance,
    },
    /// The face step's capture clock started at this frame's timestamp (the colours' and cues' time zero).
    CaptureStarted {
        step: Step,
        timestamp_ms: u64,
    },
    /// Show action `index`'s prompt (`blink`, `head_left`, …) now; `remaining_ms` of its window are left. Sent at
    /// the cue and then about every 500 ms while the window lasts.
    LivenessAction {
        index: u32,
        action: String,
        remaining_ms: u32,
    },
    /// Clear the prompt: the window of action `index` is over.
    LivenessActionEnded {
        index: u32,
    },
    /// Fill the screen with this colour now (`#rrggbb`; `#ffffff` once the sequence is over).
    ShowColour {
        colour: String,
    },
    /// The frames of the attempt are chosen; they are being encoded and sent.
    Uploading {
        step: Step,
        frames: u32,
        bytes: u64,
    },
    /// The attempt was unusable (`reason` is a sentence for the screen); a new `StepStarted` follows.
    Retake {
        step: Step,
        reason_code: String,
        reason: String,
        attempts_left: u32,
    },
    StepDone {
        step: Step,
    },
    /// A request failed; it is retried after `delay_ms`.
    NetworkRetry {
        attempt: u32,
        max_attempts: u32,
        delay_ms: u64,
        reason: String,
    },
    /// Always the last event.
    Finished {
        result: VerificationResult,
    },
}

/// Tuning; [`crate::default_options`] gives the defaults.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerificationOptions {
    /// Whether the app passes `CameraFrame::face` from a platform detector (then a frame without one means no
    /// face was seen).
    pub platform_face_detection: bool,
    /// Longest side of uploaded face frames (the server's liveness check works at up to 960).
    pub face_max_side: u32,
    /// Longest side of the uploaded document picture.
    pub document_max_side: u32,
    /// Attempts per request, the first included, and the first backoff (`docs/device-protocol.md` §8).
    pub network_max_attempts: u32,
    pub network_base_delay_ms: u64,
    pub request_timeout_ms: u64,
    /// A capture attempt fails with 1004 when no usable frame arrives for this long.
    pub frame_timeout_ms: u64,
}
