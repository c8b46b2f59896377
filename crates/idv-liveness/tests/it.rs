//! Integration tests of idv-liveness on real portraits (fetched by `scripts/fetch-assets.sh`) and on
//! sequences rendered from them by the crate's synthetic generator.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use idv_face::{DecodedImage, FaceEngine, FaceEngineConfig};
use idv_liveness::*;
use idv_vision::Assets;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fail_missing(e: impl std::fmt::Display) -> ! {
    panic!("test assets unavailable: {e}. Run scripts/fetch-assets.sh from the repository root.")
}

fn engine() -> &'static LivenessEngine {
    static ENGINE: OnceLock<LivenessEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let assets = Assets::new(root());
        let face = FaceEngine::load(&assets, FaceEngineConfig::default()).unwrap_or_else(|e| fail_missing(e));
        LivenessEngine::load(&assets, Arc::new(face), LivenessEngineConfig::default())
            .unwrap_or_else(|e| fail_missing(e))
    })
}

fn photo(name: &str) -> DecodedImage {
    let asset = Assets::new(root()).verify(&format!("testdata/faces/{name}")).unwrap_or_else(|e| fail_missing(e));
    engine().face_engine().decode(&std::fs::read(asset.path).unwrap()).unwrap()
}

#[test]
fn portraits_give_open_eyes_closed_mouths_and_frontal_poses() {
    for name in ["astronaut.png", "obama.jpg", "obama2.jpg", "grace_hopper.jpg", "biden.jpg"] {
        let img = photo(name);
        let o = engine().analyse_frame(&img, 0).unwrap();
        let f = o.face.as_ref().unwrap_or_else(|| panic!("{name}: no face"));
        let m = f.measures;
        eprintln!(
            "{name}: presence {:.3} {:?} ear {:.3}/{:.3} mar {:.3} iod {:.1} scale {:.3}",
            f.presence, m.pose, m.ear_right, m.ear_left, m.mar, m.iod_px, m.face_scale
        );
        assert!(f.presence > 0.9, "{name}: presence {}", f.presence);
        assert!((0.16..0.30).contains(&m.ear), "{name}: EAR {}", m.ear);
        assert!(m.mar < 0.4, "{name}: MAR {}", m.mar);
        assert!(m.pose.yaw_deg.abs() < 25.0 && m.pose.roll_deg.abs() < 15.0, "{name}: {:?}", m.pose);
    }
}

use idv_liveness::flash::SEQUENCE_LEN;
use idv_liveness::synth::{self, AttackKind, HeadState, Portrait, Rng};

/// Portraits framed as 480x640 selfies, built once per test binary.
fn portrait(name: &str) -> &'static Portrait {
    static CACHE: OnceLock<std::sync::Mutex<Vec<&'static Portrait>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = c.iter().find(|p| p.name == name) {
        return p;
    }
    let p: &'static Portrait = Box::leak(Box::new(
        Portrait::new(engine(), name, &photo(name), 480, 640).unwrap_or_else(|e| panic!("{name}: {e}")),
    ));
    c.push(p);
    p
}

fn show(v: &LivenessVerdict) -> String {
    format!("reasons {:?}\nscores {}", v.reasons, serde_json::to_string(&v.scores).unwrap())
}

#[test]
fn head_pose_follows_synthetic_rotations() {
    let mut rng = Rng::new(3);
    for name in ["astronaut.png", "obama.jpg"] {
        let p = portrait(name);
        let base = engine().analyse_frame(&p.render(&HeadState::default(), &mut rng, 2.0), 0).unwrap();
        let base = base.face.unwrap().measures.pose;
        let mut last = f32::MIN;
        for yaw in [-30.0f32, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0] {
            let img = p.render(&HeadState { yaw, ..Default::default() }, &mut rng, 2.0);
            let m = engine().analyse_frame(&img, 0).unwrap().face.unwrap().measures.pose;
            let got = m.yaw_deg - base.yaw_deg;
            eprintln!("{name} yaw {yaw:5.1} -> {got:6.1} (pitch {:5.1} roll {:5.1})", m.pitch_deg, m.roll_deg);
            assert!(got > last, "{name}: yaw {yaw} read {got}, not above the previous {last}");
            assert!((got - yaw).abs() <= 0.4 * yaw.abs() + 3.0, "{name}: yaw {yaw} read {got}");
            last = got;
        }
        for (pitch, roll) in [(15.0f32, 0.0f32), (-15.0, 0.0), (0.0, 10.0), (0.0, -10.0)] {
            let img = p.render(&HeadState { pitch, roll, ..Default::default() }, &mut rng, 2.0);
            let m = engine().analyse_frame(&img, 0).unwrap().face.unwrap().measures.pose;
            let (dp, dr) = (m.pitch_deg - base.pitch_deg, m.roll_deg - base.roll_deg);
            eprintln!(
                "{name} pitch {pitch:5.1} roll {roll:5.1} -> pitch {dp:6.1} roll {dr:6.1} (yaw {:5.1})",
                m.yaw_deg
            );
            assert!((dp - pitch).abs() <= 0.5 * pitch.abs() + 3.0, "{name}: pitch {pitch} read {dp}");
            assert!((dr - roll).abs() <= 3.0, "{name}: roll {roll} read {dr}");
        }
    }
}

#[test]
fn eye_and_mouth_measures_respond_to_synthetic_actions() {
    let mut rng = Rng::new(4);
    for name in ["astronaut.png", "grace_hopper.jpg"] {
        let p = portrait(name);
        let m = |st: HeadState, rng: &mut Rng| {
            engine().analyse_frame(&p.render(&st, rng, 2.0), 0).unwrap().face.unwrap().measures
        };
        let open = m(HeadState::default(), &mut rng);
        let closed = m(HeadState { eyes_closed: 1.0, ..Default::default() }, &mut rng);
        let mouth = m(HeadState { mouth_open: 1.0, ..Default::default() }, &mut rng);
        let far = m(HeadState { scale: 0.72, ..Default::default() }, &mut rng);
        eprintln!(
            "{name}: eyes {:.3} -> {:.3}, mouth {:.3} -> {:.3}, scale {:.3} -> {:.3}",
            open.eye_openness, closed.eye_openness, open.mar, mouth.mar, open.face_scale, far.face_scale
        );
        assert!(closed.eye_openness < 0.7 * open.eye_openness, "{name}: closed eyes not seen");
        assert!(mouth.mar > open.mar + 0.1, "{name}: open mouth not seen");
        assert!((far.face_scale / open.face_scale - 0.72).abs() < 0.05, "{name}: scale");
    }
}

fn genuine_case(name: &str, actions: &[Action], colours: usize, seed: u64) -> LivenessVerdict {
    let spec = synth::challenge(actions, colours, &mut Rng::new(seed));
    let s = synth::genuine(portrait(name), &spec, seed);
    let v = engine().verify(&s.challenge, &s.frames, None).unwrap();
    assert!(v.passed && !v.attack, "{}: {}", s.label, show(&v));
    v
}

#[test]
fn genuine_blink_and_turn_with_colour_flash() {
    let v = genuine_case("astronaut.png", &[Action::Blink, Action::HeadLeft], SEQUENCE_LEN, 1);
    assert!(v.scores.colour.unwrap().correlation >= idv_liveness::flash::MIN_COLOUR_CORRELATION);
    assert!(v.scores.planarity.is_some_and(|p| !p.planar), "the head turn must be judged 3-D");
}

#[test]
fn genuine_mouth_and_right_turn() {
    genuine_case("obama.jpg", &[Action::OpenMouth, Action::HeadRight], 0, 2);
}

#[test]
fn genuine_farther_closer_blink() {
    genuine_case("grace_hopper.jpg", &[Action::Farther, Action::Closer, Action::Blink], 0, 3);
}

#[test]
fn genuine_both_turns_with_colour_flash() {
    genuine_case("obama3.jpg", &[Action::HeadLeft, Action::HeadRight], SEQUENCE_LEN, 4);
}

#[test]
fn genuine_photinus_blink_and_flash_against_a_reference_face() {
    let spec = synth::challenge(&[Action::Blink], SEQUENCE_LEN, &mut Rng::new(5));
    let s = synth::genuine(portrait("obama2.jpg"), &spec, 5);
    let fe = engine().face_engine();
    let same = fe.analyze(&photo("obama.jpg"), idv_face::MultiFace::Largest).unwrap().embedding;
    let v = engine().verify(&s.challenge, &s.frames, Some(&same)).unwrap();
    assert!(v.passed, "{}", show(&v));
    let other = fe.analyze(&photo("biden.jpg"), idv_face::MultiFace::Largest).unwrap().embedding;
    let v = engine().verify(&s.challenge, &s.frames, Some(&other)).unwrap();
    assert!(!v.passed && v.has(ReasonCode::ReferenceMismatch), "{}", show(&v));
}

fn attack_case(kind: AttackKind, name: &str, actions: &[Action], colours: usize, seed: u64) {
    let spec = synth::challenge(actions, colours, &mut Rng::new(seed));
    assert!(kind.applies_to(&spec));
    let s = synth::attack(kind, portrait(name), portrait("grace_hopper.jpg"), &spec, seed);
    let v = engine().verify(&s.challenge, &s.frames, None).unwrap();
    assert!(!v.passed, "{} passed: {}", s.label, show(&v));
    assert!(v.has(kind.expected()), "{}: expected {}, got {}", s.label, kind.expected(), show(&v));
}

#[test]
fn attack_static_photo() {
    attack_case(AttackKind::StaticPhoto, "obama.jpg", &[Action::Blink, Action::HeadLeft], 0, 21);
}

#[test]
fn attack_tilted_photo() {
    attack_case(AttackKind::TiltedPhoto, "astronaut.png", &[Action::HeadRight, Action::Blink], 0, 22);
}

#[test]
fn attack_replay_under_other_colours() {
    attack_case(AttackKind::Replay, "biden.jpg", &[Action::Blink], SEQUENCE_LEN, 23);
}

#[test]
fn attack_screen_replay_lit_as_a_whole() {
    attack_case(AttackKind::ScreenReplay, "obama2.jpg", &[Action::Blink], SEQUENCE_LEN, 29);
}

#[test]
fn attack_wrong_order() {
    attack_case(AttackKind::WrongOrder, "astronaut.png", &[Action::OpenMouth, Action::HeadLeft], 0, 24);
}

#[test]
fn attack_identity_swap() {
    attack_case(AttackKind::IdentitySwap, "obama.jpg", &[Action::HeadLeft, Action::Blink], 0, 25);
}

#[test]
fn attack_duplicate_frozen_and_mistimed_frames() {
    attack_case(AttackKind::DuplicateFrames, "astronaut.png", &[Action::Blink], 0, 26);
    attack_case(AttackKind::FrozenFrames, "astronaut.png", &[Action::Blink], 0, 27);
    attack_case(AttackKind::BadTimestamps, "astronaut.png", &[Action::Blink], 0, 28);
}

#[test]
fn replayed_session_encodes_for_the_server_and_digests_are_stable() {
    let spec = synth::challenge(&[Action::Blink], 0, &mut Rng::new(30));
    let s = synth::genuine(portrait("astronaut.png"), &spec, 30);
    let files = s.encode_jpeg(90).unwrap();
    assert_eq!(files.len(), s.frames.len());
    let again = s.encode_jpeg(90).unwrap();
    assert_eq!(frame_digest(&files[0].0), frame_digest(&again[0].0), "encoding is deterministic");
    assert_ne!(frame_digest(&files[0].0), frame_digest(&files[1].0));
    // Decoded again (as the server would), the session still passes: the checks survive JPEG.
    let frames: Vec<FrameInput> =
        files.iter().map(|(b, t)| FrameInput { image: engine().face_engine().decode(b).unwrap(), t_ms: *t }).collect();
    let v = engine().verify(&s.challenge, &frames, None).unwrap();
    assert!(v.passed, "{}", show(&v));
}
