//! `idv video …`: y4m test videos for a browser's fake camera (Chromium's `--use-file-for-fake-video-capture`),
//! so anyone can run the hosted page with a document or a synthetic person. Synthetic data.

use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use idv_eval::video::{self, FaceVideo};

#[derive(Subcommand)]
pub enum VideoCommand {
    /// A synthetic person (animated from a still portrait) performing a liveness challenge, or a printed photo of
    /// them held before the camera.
    Face {
        /// The portrait to animate (a photo with one face).
        #[arg(long)]
        portrait: PathBuf,
        /// The challenge as the device API issues it (the `challenge` object of a face instruction, JSON).
        #[arg(long)]
        challenge: String,
        /// Milliseconds the page waits after the camera opens before its capture clock starts (the hosted page
        /// waits 1000).
        #[arg(long, default_value_t = 1000)]
        lead_ms: u32,
        #[arg(long, default_value_t = 10)]
        fps: u32,
        /// genuine or printed-photo.
        #[arg(long, default_value = "genuine")]
        kind: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, env = "IDV_ASSETS_DIR", default_value = ".")]
        assets: PathBuf,
    },
    /// A still picture (a document photo, e.g. from `idv specimen`) as a camera that keeps showing it.
    Still {
        #[arg(long)]
        picture: PathBuf,
        /// The largest frame size, WIDTHxHEIGHT (the picture is scaled down to fit, never up).
        #[arg(long, default_value = "1920x1080")]
        max_size: String,
        #[arg(long, default_value_t = 10)]
        fps: u32,
        /// Show the picture held in the hosted page's card frame on a desk, in a frame of exactly --max-size
        /// (what a person aiming the camera at a document sees), instead of filling the frame.
        #[arg(long)]
        in_card_frame: bool,
        /// Seconds of video (a looping player repeats it).
        #[arg(long, default_value_t = 1)]
        seconds: u32,
        #[arg(long)]
        out: PathBuf,
    },
}

fn write(out: &PathBuf, frames: &[idv_vision::DecodedImage], fps: u32) -> Result<()> {
    // Written next to the target and renamed over it: a browser that opens the camera meanwhile reads the old
    // video or the new one, never half of one.
    let tmp = out.with_extension("y4m.part");
    let file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    video::write_y4m(&mut BufWriter::new(file), frames, fps)?;
    std::fs::rename(&tmp, out).with_context(|| format!("renaming into {}", out.display()))?;
    println!("{}", out.display());
    Ok(())
}

pub fn run(cmd: VideoCommand) -> Result<()> {
    match cmd {
        VideoCommand::Face { portrait, challenge, lead_ms, fps, kind, seed, out, assets } => {
            let kind = match kind.as_str() {
                "genuine" => FaceVideo::Genuine,
                "printed-photo" => FaceVideo::PrintedPhoto,
                other => bail!("--kind {other}: use genuine or printed-photo"),
            };
            if !(1..=60).contains(&fps) {
                bail!("--fps must be 1-60");
            }
            let challenge: idv_protocol::device::Challenge =
                serde_json::from_str(&challenge).context("--challenge is not a device-API challenge object")?;
            let spec = idv_server::challenge_spec(&challenge)?;
            let assets = idv_vision::Assets::new(&assets);
            let face = Arc::new(idv_face::FaceEngine::load(&assets, Default::default())?);
            let engine = idv_liveness::LivenessEngine::load(&assets, face.clone(), Default::default())?;
            let bytes = std::fs::read(&portrait).with_context(|| format!("reading {}", portrait.display()))?;
            let name = portrait.file_stem().and_then(|s| s.to_str()).unwrap_or("portrait");
            let still = face.decode(&bytes)?;
            let head = idv_eval::liveness::synth::Portrait::new(&engine, name, &still, 480, 640)
                .with_context(|| format!("{}: no usable face to animate", portrait.display()))?;
            let frames = video::face_video(&head, &spec, kind, fps, lead_ms, seed)?;
            write(&out, &frames, fps)
        }
        VideoCommand::Still { picture, max_size, fps, in_card_frame, seconds, out } => {
            let (w, h) = max_size
                .split_once('x')
                .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
                .filter(|&(w, h)| (16..=4096).contains(&w) && (16..=4096).contains(&h))
                .context("--max-size is WIDTHxHEIGHT, 16-4096 each")?;
            if !(1..=60).contains(&fps) || !(1..=60).contains(&seconds) {
                bail!("--fps and --seconds must be 1-60");
            }
            let bytes = std::fs::read(&picture).with_context(|| format!("reading {}", picture.display()))?;
            let img = idv_vision::decode(&bytes, &idv_vision::DecodeLimits::default())?;
            let frame =
                if in_card_frame { video::held_in_frame(&img, w, h, 1) } else { video::still_video(&img, w, h) }
                    .map_err(anyhow::Error::msg)?;
            let frames = vec![frame; (fps * seconds) as usize];
            write(&out, &frames, fps)
        }
    }
}
