//! FaceCompare benchmark, single thread: end to end on two ~640x480 JPEGs (decode, detect, align, embed,
//! compare), each stage, and the two models' own inference times. `bench/face.sh` runs it next to the
//! Python peer (`bench/face_peer.py`) on the same files.
//!
//! `cargo run --release -p idv-face --example face_bench -- [--iterations N] [--inputs DIR]`
//! (from the repository root, after `scripts/fetch-assets.sh`). The two inputs are made from the test photos
//! (a 4:3 crop around the face, scaled to 640x480, JPEG quality 90) and written to DIR
//! (default `.cache/face-bench`) for the peer. Prints `sample|name|wall_ms|cpu_ms` lines (one per
//! iteration and measurement; `bench/face.sh` turns them into percentiles) and `info|key|value` lines.

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Instant;

use idv_face::{
    ALIGNED_SIZE, FaceEngine, FaceEngineConfig, MultiFace, SFACE_ASSET, TEMPLATE, YUNET_ASSET, similarity_transform,
    warp,
};
use idv_vision::{Assets, DecodeLimits, InferenceBackend, ModelOptions, ONNXRUNTIME_LIBRARY, OrtBackend, TensorView};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let mut iterations = 100usize;
    let mut inputs = PathBuf::from(".cache/face-bench");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iterations" => iterations = args.next().ok_or("--iterations N")?.parse()?,
            "--inputs" => inputs = PathBuf::from(args.next().ok_or("--inputs DIR")?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let assets = Assets::from_env();
    let (a_bytes, b_bytes) = make_inputs(&assets, &inputs)?;

    let rss_before = rss_kib("VmRSS");
    let options = ModelOptions { intra_threads: 1, max_concurrent_runs: 1, ..ModelOptions::default() };
    let config = FaceEngineConfig { model_options: options, ..FaceEngineConfig::default() };
    let engine = FaceEngine::load(&assets, config)?;
    let rss_loaded = rss_kib("VmRSS");
    // What a server holds once it has answered a FaceCompare (ONNX Runtime's arenas are sized by then).
    engine.compare_images(&engine.decode(&a_bytes)?, &engine.decode(&b_bytes)?, MultiFace::Largest)?;
    let rss_serving = rss_kib("VmRSS");

    // The models alone, through the runtime seam; separate sessions so the engine's own are not disturbed.
    let backend = OrtBackend::global(&assets.verify(ONNXRUNTIME_LIBRARY)?.path)?;
    let yunet = backend.load(&assets.verify(YUNET_ASSET)?.path, &ModelOptions { any_input_size: true, ..options })?;
    let sface = backend.load(&assets.verify(SFACE_ASSET)?.path, &options)?;
    // Real inputs: the first picture letterboxed as the detector does it, and its aligned face.
    let a_img = engine.decode(&a_bytes)?;
    let (det_in, det_w, det_h) = letterbox_bgr(&a_img)?;
    let a_face = engine.detect(&a_img)?[0];
    let crop = warp(&a_img, &similarity_transform(&a_face.landmarks, &TEMPLATE));
    let plane = ALIGNED_SIZE * ALIGNED_SIZE;
    let mut rec_in = vec![0.0f32; 3 * plane];
    for (i, px) in crop.chunks_exact(3).enumerate() {
        for ch in 0..3 {
            rec_in[ch * plane + i] = f32::from(px[ch]);
        }
    }
    let det_shape = [1, 3, det_h, det_w];
    let yunet_alone = format!("rust: YuNet alone ({det_w}x{det_h})");
    let rec_shape = [1, 3, ALIGNED_SIZE, ALIGNED_SIZE];

    // Every measurement is taken once per iteration, interleaved, so background load on a shared machine
    // affects them alike and their ratios stay meaningful.
    let warmup = 5;
    let names = [
        "rust: FaceCompare end to end (2 images)",
        "rust:   decode one 640x480 JPEG",
        "rust:   detect one image (letterbox + YuNet + decode/NMS)",
        "rust:   align one face",
        "rust:   embed one face (SFace)",
        yunet_alone.as_str(),
        "rust: SFace alone (112x112)",
    ];
    let mut samples: Vec<Vec<(f64, f64)>> = vec![Vec::new(); names.len()];
    let mut decision = None;
    for i in 0..warmup + iterations {
        let mut row = Vec::with_capacity(names.len());
        let t = Stamp::now();
        let a = engine.decode(&a_bytes)?;
        let b = engine.decode(&b_bytes)?;
        let c = engine.compare(&engine.analyze(&a, MultiFace::Largest)?, &engine.analyze(&b, MultiFace::Largest)?);
        row.push(t.elapsed());
        decision = Some(c);

        let t = Stamp::now();
        let a = engine.decode(&a_bytes)?;
        row.push(t.elapsed());
        let t = Stamp::now();
        let faces = engine.detect(&a)?;
        row.push(t.elapsed());
        let t = Stamp::now();
        let crop = warp(&a, &similarity_transform(&faces[0].landmarks, &TEMPLATE));
        row.push(t.elapsed());
        let t = Stamp::now();
        engine.embed_aligned(&crop)?;
        row.push(t.elapsed());

        let t = Stamp::now();
        yunet.run(&[("input", TensorView::new(&det_shape, &det_in)?)])?;
        row.push(t.elapsed());
        let t = Stamp::now();
        sface.run(&[("data", TensorView::new(&rec_shape, &rec_in)?)])?;
        row.push(t.elapsed());
        if i >= warmup {
            for (s, v) in samples.iter_mut().zip(row) {
                s.push(v);
            }
        }
    }
    let rss_peak = rss_kib("VmHWM");

    let decision = decision.ok_or("no iterations")?;
    println!(
        "info|decision (rust)|{:?} cosine {:.4} score {:.2}",
        decision.decision, decision.cosine, decision.face_comparison_score
    );
    println!("info|runtime (rust)|{}", engine.info().runtime);
    println!("info|rss before loading models (MiB)|{:.1}", rss_before / 1024.0);
    println!("info|rss with both models loaded (MiB)|{:.1}", rss_loaded / 1024.0);
    println!("info|rss after one FaceCompare (MiB)|{:.1}", rss_serving / 1024.0);
    println!("info|peak rss, incl. the benchmark's own extra sessions (MiB)|{:.1}", rss_peak / 1024.0);
    for (name, s) in names.iter().zip(&samples) {
        for (wall, cpu) in s {
            println!("sample|{name}|{wall:.4}|{cpu:.4}");
        }
    }
    Ok(())
}

/// Wall-clock and this thread's CPU time. On a machine shared with other work the CPU time is the stable
/// figure (it excludes time the thread waited for a core); both are reported.
struct Stamp {
    wall: Instant,
    cpu_ns: u64,
}

impl Stamp {
    fn now() -> Self {
        Self { wall: Instant::now(), cpu_ns: thread_cpu_ns() }
    }

    /// (wall ms, cpu ms) since `now()`.
    fn elapsed(&self) -> (f64, f64) {
        let cpu = thread_cpu_ns().saturating_sub(self.cpu_ns);
        (self.wall.elapsed().as_secs_f64() * 1e3, cpu as f64 / 1e6)
    }
}

/// Nanoseconds this thread has run on a CPU (CLOCK_THREAD_CPUTIME_ID; /proc's schedstat is only
/// updated at scheduler ticks, too coarse for millisecond stages).
fn thread_cpu_ns() -> u64 {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec (two 64-bit fields on x86_64 Linux) into `ts`.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The detector's input for `img` (longer side scaled to 640, black padding to multiples of 32, planar BGR
/// 0..255) and its width and height, built here the same way as in the engine so the model can be timed alone
/// on a real picture.
fn letterbox_bgr(img: &idv_vision::DecodedImage) -> Result<(Vec<f32>, usize, usize), Error> {
    let scale = 640.0 / img.width().max(img.height()) as f32;
    let w = ((img.width() as f32 * scale).round() as u32).clamp(1, 640);
    let h = ((img.height() as f32 * scale).round() as u32).clamp(1, 640);
    let resized = idv_vision::resize(img, w, h)?;
    let (tw, th) = (w.div_ceil(32) as usize * 32, h.div_ceil(32) as usize * 32);
    let plane = tw * th;
    let mut t = vec![0.0f32; 3 * plane];
    for (y, row) in resized.rgb().chunks_exact(w as usize * 3).enumerate() {
        for (x, px) in row.chunks_exact(3).enumerate() {
            for ch in 0..3 {
                t[(2 - ch) * plane + y * tw + x] = f32::from(px[ch]);
            }
        }
    }
    Ok((t, tw, th))
}

fn rss_kib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(f64::NAN)
}

/// Writes `a.jpg` and `b.jpg` (obama.jpg and obama3.jpg cropped 4:3 around the face, 640x480, quality 90)
/// and returns their bytes.
fn make_inputs(assets: &Assets, dir: &PathBuf) -> Result<(Vec<u8>, Vec<u8>), Error> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for (src, name) in [("obama.jpg", "a.jpg"), ("obama3.jpg", "b.jpg")] {
        let bytes = std::fs::read(assets.verify(&format!("testdata/faces/{src}"))?.path)?;
        let img = idv_vision::decode(&bytes, &DecodeLimits::default())?;
        let h = img.width() * 3 / 4;
        let crop = img.crop(0, 0, img.width(), h)?;
        let small = idv_vision::resize(&crop, 640, 480)?;
        let rgb = image::RgbImage::from_raw(640, 480, small.rgb().to_vec()).ok_or("buffer")?;
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut jpeg), 90).encode_image(&rgb)?;
        std::fs::write(dir.join(name), &jpeg)?;
        out.push(jpeg);
    }
    let b = out.pop().ok_or("input")?;
    let a = out.pop().ok_or("input")?;
    Ok((a, b))
}
