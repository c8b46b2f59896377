//! The face evaluation over the test photos.

use idv_eval::face::{evaluate, identity_of};

use crate::common::{face_engine, root};

#[test]
fn evaluation_over_all_photos_has_no_errors_at_the_threshold() {
    let report = evaluate(face_engine(), &root().join("testdata/faces")).unwrap();
    let text = report.to_string();
    // 5 photos of obama (10 pairs) and 4 other people: 9 analysed photos, 36 pairs.
    assert_eq!(report.images.len(), 9, "{text}");
    assert!(report.images.iter().all(|i| i.error.is_none()), "{text}");
    assert_eq!(report.genuine.len(), 10, "{text}");
    assert_eq!(report.impostor.len(), 26, "{text}");
    assert_eq!(report.false_non_matches, 0, "{text}");
    assert_eq!(report.false_matches, 0, "{text}");
    assert!(report.genuine.windows(2).all(|w| w[0].cosine <= w[1].cosine));
    assert!(text.contains("false matches: 0 of 26 impostor pairs"), "{text}");
    assert!(text.contains("false non-matches: 0 of 10 genuine pairs"), "{text}");
}

#[test]
fn identity_labels_cover_the_test_photos() {
    assert_eq!(identity_of("obama-partial_face2.jpg"), "obama");
}
