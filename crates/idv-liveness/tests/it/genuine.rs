//! Genuine sessions rendered by the synthetic generator pass, with colour flash, a reference face and
//! after JPEG encoding.

use idv_eval::liveness::synth::{self, Rng};
use idv_liveness::flash::SEQUENCE_LEN;
use idv_liveness::{Action, FrameInput, LivenessVerdict, ReasonCode, frame_digest};

use crate::common::{engine, photo, portrait, show};

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
fn genuine_three_blinks_each_in_its_window() {
    // The default model's longest challenge: three blinks at their own cues.
    let v = genuine_case("biden.jpg", &[Action::Blink; 3], 0, 5);
    for (k, a) in v.scores.actions.iter().enumerate() {
        let t = a.elapsed_ms.expect("completed") + a.cue_ms;
        assert!((a.window_ms.0..=a.window_ms.1 + 100).contains(&t), "blink {k}: {a:?}");
    }
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

/// Between detector runs the face is followed by the mesh: on a session with a head turn (the fastest motion the
/// challenges ask for) and a blink, every followed frame measures as it does with the detector placing the crop.
#[test]
fn followed_frames_measure_as_detected_ones() {
    let spec = synth::challenge(&[Action::HeadLeft, Action::Blink], 0, &mut Rng::new(7));
    let s = synth::genuine(portrait("astronaut.png"), &spec, 7);
    let e = engine();
    let seq = e.analyse_sequence(&s.frames).unwrap();
    let (mut yaw, mut pos, mut eyes, mut compared) = (0.0f32, 0.0f32, 0.0f32, 0);
    for (i, (o, f)) in seq.iter().zip(&s.frames).enumerate() {
        let detected = e.analyse_frame(&f.image, f.t_ms).unwrap();
        let (Some(a), Some(b)) = (&o.face, &detected.face) else {
            assert_eq!(o.face.is_some(), detected.face.is_some(), "frame {i}: a face in one analysis only");
            continue;
        };
        let nose = idv_liveness::mesh::idx::NOSE_TIP;
        yaw = yaw.max((a.measures.pose.yaw_deg - b.measures.pose.yaw_deg).abs());
        let d = (a.mesh[nose][0] - b.mesh[nose][0]).hypot(a.mesh[nose][1] - b.mesh[nose][1]);
        pos = pos.max(d / b.measures.iod_px);
        eyes = eyes.max((a.measures.eye_openness - b.measures.eye_openness).abs() / b.measures.eye_openness);
        compared += 1;
    }
    assert!(compared > s.frames.len() / 2, "{compared} of {} frames compared", s.frames.len());
    eprintln!("followed vs detected: yaw {yaw:.2} deg, nose {pos:.3} eye distances, eye openness {eyes:.3}");
    // Measured: yaw 2.3 deg, nose 0.03 eye distances, eye openness 4%; a still photo's landmark noise reaches 3 deg.
    assert!(yaw < 3.0 && pos < 0.05 && eyes < 0.1, "yaw {yaw} deg, nose {pos} eye distances, eyes {eyes}");
}
