//! Per-frame measures (eye openness, mouth, pose, scale) on real portraits and synthetic poses.

use idv_eval::liveness::synth::{HeadState, Rng};

use crate::common::{engine, photo, portrait};

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
