use idv_face::{MultiFace, QualityIssue};

use crate::common::{analyze, engine, from_rgb_image, photo, to_rgb_image};

fn analyze_rgb(img: image::RgbImage) -> idv_face::FaceAnalysis {
    engine().analyze(&from_rgb_image(img), MultiFace::Largest).unwrap()
}

#[test]
fn sharp_well_lit_portrait_scores_high() {
    for name in ["obama.jpg", "grace_hopper.jpg", "astronaut.png"] {
        let q = analyze(name).quality;
        assert!(q.face_quality_score > 80.0, "{name}: {q:?}");
        assert!(q.sharpness_score > 80.0, "{name}: {q:?}");
        assert!(q.illumination_score > 70.0, "{name}: {q:?}");
        assert!(q.issues().is_empty(), "{name}: {:?}", q.issues());
    }
}

#[test]
fn blur_lowers_sharpness() {
    let sharp = analyze("obama.jpg").quality;
    let blurred = analyze_rgb(image::imageops::blur(&to_rgb_image(&photo("obama.jpg")), 6.0)).quality;
    assert!(blurred.sharpness_score < 40.0, "{blurred:?}");
    assert!(blurred.issues().contains(&QualityIssue::Blurry));
    assert!(blurred.face_quality_score < sharp.face_quality_score - 15.0);
}

#[test]
fn exposure_problems_lower_illumination() {
    let base = to_rgb_image(&photo("obama.jpg"));
    let mut dark = base.clone();
    dark.pixels_mut().for_each(|p| p.0 = p.0.map(|v| (f32::from(v) * 0.2) as u8));
    let dark = analyze_rgb(dark).quality;
    assert!(dark.issues().contains(&QualityIssue::TooDark), "{:?}", dark.issues());
    assert!(dark.illumination_score < 30.0, "{dark:?}");

    let mut bright = base;
    bright.pixels_mut().for_each(|p| p.0 = p.0.map(|v| (f32::from(v) * 1.8).min(255.0) as u8));
    let bright = analyze_rgb(bright).quality;
    assert!(bright.issues().contains(&QualityIssue::TooBright), "{:?}", bright.issues());
    assert!(bright.illumination_score < 30.0, "{bright:?}");
}

#[test]
fn face_crossing_the_edge_is_measured_as_cut_off() {
    let full = analyze("obama.jpg").quality;
    assert!(full.measures.in_frame > 0.99);
    // The second partial crop cuts the face at the right edge; YuNet still boxes the whole face.
    let cut = analyze("obama-partial_face2.jpg").quality;
    assert!(cut.measures.in_frame < 0.95, "{:?}", cut.measures);
    assert!(cut.face_quality_score < full.face_quality_score);
}

#[test]
fn frontal_portraits_have_small_yaw_and_roll() {
    for name in ["obama.jpg", "grace_hopper.jpg"] {
        let p = analyze(name).quality.pose;
        assert!(p.yaw_deg.abs() < 10.0 && p.roll_deg.abs() < 5.0, "{name}: {p:?}");
    }
}
