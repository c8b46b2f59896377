//! Where frames come from. A phone app implements [`CaptureSource`] over its camera screen; [`FileCapture`] serves
//! images from files (the simulator and tests).

use std::path::{Path, PathBuf};

use idv_protocol::Step;
use idv_protocol::device::Instruction;

/// One captured image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// JPEG or PNG bytes.
    pub bytes: Vec<u8>,
    /// Milliseconds since the instruction was shown.
    pub t_ms: u32,
}

/// Why a capture failed; the session ends with result code 1004.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CaptureError(pub String);

/// A source of frames. `capture` may block (a camera screen waits for the user): the session runs it off the
/// async executor.
///
/// A camera screen for the face step shows the challenge's cues (`instruction.challenge`, see
/// `docs/device-protocol.md`): it starts capturing at once, one frame every `frame_interval_ms` for
/// `frames_wanted` frames (they cover the last action's window, up to about 12 s), and keeps the first frame's
/// capture time `t0`. Until the first cue it shows only "look at the screen"; at `t0 + cues_ms[k]`, not
/// earlier, it shows action `k`'s prompt (`actions[k]`: "Blink", "Turn your head to your left", ...), and clears
/// it at the next cue or after `action_window_ms`; no countdown or cue time is shown in advance, since a user
/// who anticipates a cue acts too early and gets a retake. Colours (`colours`) are flashed from `t0` on the same
/// clock. Nothing in the SDK schedules the cues: the session hands the instruction over as the server sent it.
pub trait CaptureSource: Send {
    /// Frames for `instruction` (its step, `frames_wanted`, and for the face step the liveness challenge with its
    /// cues).
    fn capture(&mut self, instruction: &Instruction) -> Result<Vec<CapturedFrame>, CaptureError>;

    /// Reported to the server as `capture.source`: `front` or `back` for a camera, `file` otherwise.
    fn source_name(&self, step: Step) -> String {
        let _ = step;
        "file".to_owned()
    }
}

/// The cadence assumed when an instruction carries no challenge (document steps).
pub const DEFAULT_FRAME_INTERVAL_MS: u32 = 100;

/// Serves document pages and face frames from image files.
///
/// Document steps use their one file; the face step uses its list (or a directory's images, sorted by name),
/// subsampled evenly when there are more files than `frames_wanted` and cycled when there are fewer. Frames are
/// stamped `frame_interval_ms` apart, as a camera running at the challenge's cadence would stamp them.
#[derive(Debug, Clone, Default)]
pub struct FileCapture {
    doc_front: Option<PathBuf>,
    doc_back: Option<PathBuf>,
    face: Vec<PathBuf>,
}

fn is_image_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
}

impl FileCapture {
    pub fn new() -> Self {
        FileCapture::default()
    }

    pub fn doc_front(mut self, path: impl Into<PathBuf>) -> Self {
        self.doc_front = Some(path.into());
        self
    }

    pub fn doc_back(mut self, path: impl Into<PathBuf>) -> Self {
        self.doc_back = Some(path.into());
        self
    }

    /// Adds face frames: a file is taken as is, a directory contributes its `.jpg`/`.jpeg`/`.png` files sorted
    /// by name.
    pub fn face(mut self, path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        if path.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|e| CaptureError(format!("cannot list face directory {}: {e}", path.display())))?;
            let mut files = Vec::new();
            for entry in entries {
                let p = entry.map_err(|e| CaptureError(format!("cannot list {}: {e}", path.display())))?.path();
                if p.is_file() && is_image_name(&p) {
                    files.push(p);
                }
            }
            if files.is_empty() {
                return Err(CaptureError(format!("{} holds no .jpg/.jpeg/.png files", path.display())));
            }
            files.sort();
            self.face.extend(files);
        } else {
            self.face.push(path.to_owned());
        }
        Ok(self)
    }

    fn files_for(&self, step: Step) -> Result<Vec<&Path>, CaptureError> {
        let (files, name): (Vec<&Path>, &str) = match step {
            Step::DocFront => (self.doc_front.as_deref().into_iter().collect(), "DOC_FRONT"),
            Step::DocBack => (self.doc_back.as_deref().into_iter().collect(), "DOC_BACK"),
            Step::Face => (self.face.iter().map(PathBuf::as_path).collect(), "FACE"),
        };
        if files.is_empty() {
            return Err(CaptureError(format!("no image file was given for step {name}")));
        }
        Ok(files)
    }
}

/// Indices of `have` items that give `want` frames: evenly spread when subsampling, round-robin when cycling.
fn pick(have: usize, want: usize) -> Vec<usize> {
    if have >= want { (0..want).map(|i| i * have / want).collect() } else { (0..want).map(|i| i % have).collect() }
}

impl CaptureSource for FileCapture {
    fn capture(&mut self, instruction: &Instruction) -> Result<Vec<CapturedFrame>, CaptureError> {
        let files = self.files_for(instruction.step)?;
        let want = instruction.frames_wanted.max(1) as usize;
        let interval = instruction
            .challenge
            .as_ref()
            .map(|c| c.frame_interval_ms)
            .filter(|&i| i > 0)
            .unwrap_or(DEFAULT_FRAME_INTERVAL_MS);
        let mut frames = Vec::with_capacity(want);
        for (n, i) in pick(files.len(), want).into_iter().enumerate() {
            let bytes = std::fs::read(files[i])
                .map_err(|e| CaptureError(format!("cannot read {}: {e}", files[i].display())))?;
            let t_ms = u32::try_from(n).unwrap_or(u32::MAX).saturating_mul(interval);
            frames.push(CapturedFrame { bytes, t_ms });
        }
        Ok(frames)
    }
}

/// Width and height from a PNG or JPEG header; `None` for anything else. Lets the SDK refuse non-images with a
/// camera error on the device instead of spending an upload on them.
pub(crate) fn image_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if b.starts_with(PNG) {
        // The first chunk must be IHDR: length (4), type (4), then width and height, big-endian.
        if b.len() < 24 || &b[12..16] != b"IHDR" {
            return None;
        }
        let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
        let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
        return Some((w, h));
    }
    if !b.starts_with(&[0xff, 0xd8]) {
        return None;
    }
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xff {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xff {
            // Fill byte before a marker.
            i += 1;
            continue;
        }
        if (0xd0..=0xd9).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        // SOF0-SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
        let is_sof = (0xc0..=0xcf).contains(&marker) && !matches!(marker, 0xc4 | 0xc8 | 0xcc);
        if is_sof {
            if i + 9 > b.len() {
                return None;
            }
            let h = u32::from(u16::from_be_bytes([b[i + 5], b[i + 6]]));
            let w = u32::from(u16::from_be_bytes([b[i + 7], b[i + 8]]));
            return Some((w, h));
        }
        if len < 2 {
            return None;
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use idv_protocol::device::Challenge;

    use super::*;

    fn png(w: u32, h: u32, tag: u8) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&[8, 2, 0, 0, 0, tag]);
        b
    }

    fn instruction(step: Step, frames_wanted: u32, interval: Option<u32>) -> Instruction {
        Instruction {
            round: 1,
            nonce: "n".into(),
            step,
            hint: String::new(),
            frames_wanted,
            challenge: interval.map(|frame_interval_ms| Challenge {
                actions: vec!["blink".into()],
                cues_ms: vec![1200],
                colours: vec![],
                colour_ms: 0,
                frame_interval_ms,
                action_window_ms: 2000,
            }),
            attempts_left: 3,
        }
    }

    #[test]
    fn picks_spread_or_cycle() {
        assert_eq!(pick(10, 5), vec![0, 2, 4, 6, 8]);
        assert_eq!(pick(3, 7), vec![0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(pick(4, 4), vec![0, 1, 2, 3]);
        assert_eq!(pick(1, 1), vec![0]);
    }

    #[test]
    fn files_and_directories_serve_the_steps() {
        let dir = tempfile::tempdir().unwrap();
        let faces = dir.path().join("faces");
        std::fs::create_dir(&faces).unwrap();
        // Written out of order: the directory must be read sorted by name.
        for (name, tag) in [("f2.png", 2u8), ("f0.png", 0), ("f1.jpg", 1)] {
            std::fs::write(faces.join(name), png(4, 4, tag)).unwrap();
        }
        std::fs::write(faces.join("notes.txt"), "not an image").unwrap();
        let front = dir.path().join("front.png");
        std::fs::write(&front, png(640, 400, 9)).unwrap();

        let mut cap = FileCapture::new().doc_front(&front).face(&faces).unwrap();
        let doc = cap.capture(&instruction(Step::DocFront, 1, None)).unwrap();
        assert_eq!(doc, vec![CapturedFrame { bytes: png(640, 400, 9), t_ms: 0 }]);

        let burst = cap.capture(&instruction(Step::Face, 5, Some(40))).unwrap();
        let tags: Vec<u8> = burst.iter().map(|f| *f.bytes.last().unwrap()).collect();
        assert_eq!(tags, vec![0, 1, 2, 0, 1]);
        assert_eq!(burst.iter().map(|f| f.t_ms).collect::<Vec<_>>(), vec![0, 40, 80, 120, 160]);

        let sparse = cap.capture(&instruction(Step::Face, 2, None)).unwrap();
        assert_eq!(sparse.iter().map(|f| *f.bytes.last().unwrap()).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(sparse[1].t_ms, DEFAULT_FRAME_INTERVAL_MS);

        let e = cap.capture(&instruction(Step::DocBack, 1, None)).unwrap_err();
        assert!(e.0.contains("DOC_BACK"), "{e}");
        let mut missing = FileCapture::new().doc_front(dir.path().join("absent.png"));
        assert!(missing.capture(&instruction(Step::DocFront, 1, None)).unwrap_err().0.contains("absent.png"));
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        assert!(FileCapture::new().face(dir.path().join("empty")).is_err());
    }

    #[test]
    fn reads_image_sizes() {
        assert_eq!(image_dimensions(&png(640, 480, 0)), Some((640, 480)));
        // SOI, APP0 (length 16), DHT (length 4, must be skipped), SOF0 with height 300 and width 200.
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0, 0, 16];
        jpeg.extend_from_slice(&[0; 14]);
        jpeg.extend_from_slice(&[0xff, 0xc4, 0, 4, 0, 0]);
        jpeg.extend_from_slice(&[0xff, 0xc0, 0, 17, 8, 1, 44, 0, 200, 3]);
        assert_eq!(image_dimensions(&jpeg), Some((200, 300)));
        assert_eq!(image_dimensions(b"GIF89a...."), None);
        assert_eq!(image_dimensions(&[0xff, 0xd8, 0xff]), None);
        assert_eq!(image_dimensions(&jpeg[..jpeg.len() - 4]), None);
    }
}
