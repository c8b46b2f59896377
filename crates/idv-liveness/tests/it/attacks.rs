//! Every attack kind of the synthetic generator is rejected with its own reason code.

use idv_eval::liveness::synth::{self, AttackKind, Rng};
use idv_liveness::Action;
use idv_liveness::flash::SEQUENCE_LEN;

use crate::common::{engine, portrait, show};

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
fn attack_shifted_timing() {
    // The right actions, each completed just before its window opens: blinks (the default model, repeated)
    // and a turn.
    attack_case(AttackKind::ShiftedTiming, "obama.jpg", &[Action::Blink, Action::Blink], 0, 30);
    attack_case(AttackKind::ShiftedTiming, "astronaut.png", &[Action::HeadLeft, Action::Closer], 0, 31);
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
