//! The capture-fingerprint tolerance, measured: genuine sessions of one portrait never come within
//! [`REPLAY_DISTANCE`] of each other, and every re-encoded replay (rescaled ×0.9, cropped, JPEG 70-85) does of its
//! source. Run with `--nocapture` for the figures.

use idv_eval::liveness::synth::{self, Portrait, Rng};
use idv_liveness::fingerprint::{REPLAY_DISTANCE, distance};
use idv_liveness::{Action, CaptureFingerprint, LivenessEngine};

use crate::common::{face_engine, root};

const GENUINE: usize = 40;
const REPLAYS: usize = 12;

#[test]
fn reencoded_replays_are_caught_and_genuine_sessions_are_not() {
    let assets = idv_vision::Assets::new(root());
    let face = std::sync::Arc::new(idv_face::FaceEngine::load(&assets, Default::default()).unwrap());
    let engine = LivenessEngine::load(&assets, face, Default::default()).unwrap();
    let still = face_engine().decode(&std::fs::read(root().join("testdata/faces/astronaut.png")).unwrap()).unwrap();
    let p = Portrait::new(&engine, "astronaut.png", &still, 480, 640).unwrap();
    // One challenge for every session, without flash colours: the hardest case, where nothing but the motion
    // tells two sessions of the same still portrait apart.
    let spec = synth::challenge(&[Action::Blink, Action::HeadLeft], 0, &mut Rng::new(7));
    let fingerprint = |s: &synth::Session| -> CaptureFingerprint {
        let (v, f) = engine.verify_fingerprinted(&s.challenge, &s.frames, None).unwrap();
        assert!(v.passed, "{}: {:?}", s.label, v.reasons);
        f.expect("analysed frames")
    };
    let sessions: Vec<synth::Session> = (0..GENUINE as u64).map(|k| synth::genuine(&p, &spec, 1000 + k)).collect();
    let prints: Vec<CaptureFingerprint> = sessions.iter().map(fingerprint).collect();
    let mut genuine_min = f32::INFINITY;
    for i in 0..GENUINE {
        for j in i + 1..GENUINE {
            let d = distance(&prints[i], &prints[j]);
            assert!(d > REPLAY_DISTANCE, "genuine sessions {i} and {j} collide at {d}");
            genuine_min = genuine_min.min(d);
        }
    }
    let mut rng = Rng::new(2026);
    let mut replay_max = 0f32;
    for (k, s) in sessions.iter().take(REPLAYS).enumerate() {
        let replay = synth::reencode(s, &mut rng);
        let (_, f) = engine.verify_fingerprinted(&replay.challenge, &replay.frames, None).unwrap();
        let f = f.expect("analysed frames");
        let d = distance(&f, &prints[k]);
        assert!(d <= REPLAY_DISTANCE, "{}: {d} from its source", replay.label);
        let nearest_other =
            (0..GENUINE).filter(|&j| j != k).map(|j| distance(&f, &prints[j])).fold(f32::INFINITY, f32::min);
        assert!(nearest_other > REPLAY_DISTANCE, "{}: {nearest_other} from another session", replay.label);
        replay_max = replay_max.max(d);
    }
    println!(
        "{GENUINE} genuine sessions, {} pairs: smallest distance {genuine_min:.2}; {REPLAYS} re-encoded replays: \
         largest distance to their source {replay_max:.2}; threshold {REPLAY_DISTANCE}",
        GENUINE * (GENUINE - 1) / 2
    );
}
