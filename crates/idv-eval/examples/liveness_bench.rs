//! Liveness benchmark, single thread: CPU time of one `LivenessEngine::verify` (YuNet + face mesh + iris on
//! every frame, SFace on every third frame, then the decision) for sequences of about 10, 20 and 40 frames,
//! and the models' own times.
//!
//! `cargo run --release -p idv-eval --example liveness_bench -- [--iterations N]` from the repository
//! root (after `scripts/fetch-assets.sh`). Frames are synthetic 480x640 renderings of astronaut.png performing
//! blink + head_left; rendering is not timed. CPU time comes from /proc/self/stat (all threads of the
//! process; ONNX Runtime runs one intra-op thread here), wall time from the monotonic clock.

use std::sync::Arc;
use std::time::Instant;

use idv_eval::liveness::synth::{self, Portrait, Rng};
use idv_face::{FaceEngine, FaceEngineConfig};
use idv_liveness::{Action, LivenessEngine, LivenessEngineConfig};
use idv_vision::{Assets, ModelOptions};

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, i.e. 12 and 13 after the state field.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut iterations = 5usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iterations" => iterations = args.next().ok_or("--iterations N")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let assets = Assets::from_env();
    let options = ModelOptions { intra_threads: 1, max_concurrent_runs: 1, ..ModelOptions::default() };
    let face = Arc::new(FaceEngine::load(&assets, FaceEngineConfig { model_options: options, ..Default::default() })?);
    let engine =
        LivenessEngine::load(&assets, face, LivenessEngineConfig { model_options: options, ..Default::default() })?;
    let still = engine.face_engine().decode(&std::fs::read(assets.verify("testdata/faces/astronaut.png")?.path)?)?;
    let portrait = Portrait::new(&engine, "astronaut.png", &still, 480, 640)?;

    // Per-frame model costs.
    let frame = synth::genuine(&portrait, &synth::challenge(&[Action::Blink], 0, &mut Rng::new(1)), 1).frames.remove(0);
    let n = 20;
    let t = Instant::now();
    for _ in 0..n {
        engine.face_engine().detect(&frame.image)?;
    }
    println!("detect (YuNet, 480x640 frame): {:.1} ms", t.elapsed().as_secs_f64() * 1e3 / n as f64);
    let t = Instant::now();
    for _ in 0..n {
        engine.analyse_frame(&frame.image, 0)?;
    }
    println!("analyse_frame (YuNet + mesh + 2x iris + measures): {:.1} ms", t.elapsed().as_secs_f64() * 1e3 / n as f64);
    let det = engine.face_engine().detect(&frame.image)?[0];
    let t = Instant::now();
    for _ in 0..n {
        engine.embed(&frame.image, &det)?;
    }
    println!("embed (align + SFace): {:.1} ms", t.elapsed().as_secs_f64() * 1e3 / n as f64);

    println!("\nframes | verify wall ms (median of {iterations}) | CPU ms per check | CPU ms per frame");
    for target in [10u32, 20, 40] {
        let mut spec = synth::challenge(&[Action::Blink, Action::HeadLeft], 0, &mut Rng::new(2));
        // The scripted actions take about 3.4 s; spread the requested number of frames over them.
        spec.frame_interval_ms = 3400 / target;
        let s = synth::genuine(&portrait, &spec, 2);
        let mut walls = Vec::new();
        let cpu0 = cpu_seconds();
        let mut passed = true;
        for _ in 0..iterations {
            let t = Instant::now();
            let v = engine.verify(&s.challenge, &s.frames, None)?;
            walls.push(t.elapsed().as_secs_f64() * 1e3);
            passed &= v.passed;
        }
        let cpu = (cpu_seconds() - cpu0) * 1e3 / iterations as f64;
        walls.sort_by(f64::total_cmp);
        println!(
            "{:6} | {:8.0} | {:8.0} | {:6.1}{}",
            s.frames.len(),
            walls[walls.len() / 2],
            cpu,
            cpu / s.frames.len() as f64,
            if passed { "" } else { "  (verdict: not passed)" }
        );
    }
    Ok(())
}
