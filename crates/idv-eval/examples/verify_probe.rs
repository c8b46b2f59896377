//! Renders one genuine or attack session and prints the verdict and scores; `DUMP=1` adds per-frame signals.
//!
//! `cargo run --release -p idv-eval --example verify_probe -- [PORTRAIT [ACTIONS [COLOURS [ATTACK]]]]` from the
//! repository root, e.g. `-- obama.jpg blink,head_left 10 replay` (defaults: astronaut.png, blink,head_left, 0).

use std::sync::Arc;
use std::time::Instant;

use idv_eval::liveness::synth::{self, AttackKind, Portrait, Rng};
use idv_face::{FaceEngine, FaceEngineConfig};
use idv_liveness::{Action, LivenessEngine, LivenessEngineConfig};
use idv_vision::Assets;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let assets = Assets::from_env();
    let face = Arc::new(FaceEngine::load(&assets, FaceEngineConfig::default())?);
    let engine = LivenessEngine::load(&assets, face, LivenessEngineConfig::default())?;
    let load = |n: &str| -> Result<Portrait, Box<dyn std::error::Error>> {
        let still = engine.face_engine().decode(&std::fs::read(format!("testdata/faces/{n}"))?)?;
        Ok(Portrait::new(&engine, n, &still, 480, 640)?)
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let p = load(args.first().map_or("astronaut.png", |s| s.as_str()))?;
    let other = load("biden.jpg")?;
    let actions: Vec<Action> =
        args.get(1).map_or("blink,head_left", |s| s.as_str()).split(',').filter_map(Action::parse).collect();
    let colours: usize = args.get(2).map_or(0, |s| s.parse().unwrap());
    let spec = synth::challenge(&actions, colours, &mut Rng::new(5));
    let kinds: Vec<Option<AttackKind>> = match args.get(3) {
        Some(k) => vec![AttackKind::ALL.into_iter().find(|a| a.name() == k)],
        None => vec![None],
    };
    for kind in kinds {
        let t = Instant::now();
        let s = match kind {
            None => synth::genuine(&p, &spec, 11),
            Some(k) => synth::attack(k, &p, &other, &spec, 11),
        };
        let tr = t.elapsed();
        let t = Instant::now();
        let v = engine.verify(&s.challenge, &s.frames, None)?;
        println!("{}: {} frames, render {:?}, verify {:?}", s.label, s.frames.len(), tr, t.elapsed());
        println!("  passed {} attack {} reasons {:?}", v.passed, v.attack, v.reasons);
        println!("  scores {}", serde_json::to_string(&v.scores)?);
        if std::env::var_os("DUMP").is_some() {
            for (i, f) in s.frames.iter().enumerate() {
                let o = engine.analyse_frame(&f.image, f.t_ms)?;
                if let Some(fc) = o.face {
                    let m = fc.measures;
                    let ch = |c: [f32; 3]| {
                        let s = c[0] + c[1] + c[2];
                        format!("{:.3},{:.3},{:.3}", c[0] / s, c[1] / s, c[2] / s)
                    };
                    println!(
                        "  {i:2} t {:5} yaw {:6.1} open {:.3} mar {:.3} scale {:.3} colour {:?} skin {} bg {}",
                        f.t_ms,
                        m.pose.yaw_deg,
                        m.eye_openness,
                        m.mar,
                        m.face_scale,
                        s.challenge.colour_at(s.frames[0].t_ms, f.t_ms),
                        ch(fc.colour.skin),
                        fc.colour.background[0].map_or("-".into(), ch)
                    );
                }
                if i == 12 {
                    std::fs::write("/tmp/frame12.png", f.image.to_png()?)?;
                }
            }
        }
    }
    Ok(())
}
