//! Small pictures: passports rendered at one third of the usual resolution (about 500 × 350 px), where captions and
//! values are a few pixels tall and drift into each other's places. A genuine document read there passes or is
//! asked to be taken again; it never fails a consistency or validity check because of a misread (which would be
//! SubCode 201 "looks tampered" or 202 "not yet valid").

use idv_doc::{DocError, DocRequest, DocTypeSpec, Field};
use idv_specimen::{Distortion, DocKind, SpecimenSpec};

use crate::common::{TODAY, engine, spec_assets, today};

#[test]
fn genuine_passports_at_one_third_scale_pass_or_retake_never_fail_a_check() {
    let req = DocRequest::new(DocTypeSpec::passport("GLB03002"), today());
    let (mut passed, mut retakes, mut unread) = (0, 0, 0);
    for seed in 100..112u64 {
        let mut spec = SpecimenSpec::new(DocKind::Td3, seed, TODAY);
        // 125 × 88 mm at 3.96 px/mm: 495 × 348 px, the size of the small real specimens.
        spec.px_per_mm = 3.96;
        spec.distortion = Distortion::preset(if seed % 2 == 0 { "clean" } else { "jpeg" }).unwrap();
        let sp = idv_specimen::render(&spec, spec_assets()).unwrap();
        match engine().read_image(&sp.image, &req) {
            Err(DocError::Retake(_)) => retakes += 1,
            Err(e) => panic!("seed {seed}: {e}"),
            Ok(r) => {
                assert!(r.failed_checks().is_empty(), "seed {seed}: a genuine passport failed {:?}", r.failed_checks());
                passed += 1;
                unread += r.unread.len();
                // What is reported is right: a printed value that is kept is the one printed.
                for (f, v) in &r.printed {
                    let truth = sp.truth.printed.iter().find(|(pf, _)| pf.as_str() == f.as_str()).map(|(_, t)| t);
                    if f.is_date() {
                        assert_eq!(Some(v), truth, "seed {seed}: printed {} kept though misread", f.as_str());
                    }
                }
                assert_eq!(r.mrz.as_ref().map(|m| &m.lines), Some(&sp.truth.mrz), "seed {seed}");
                assert!(r.fields.contains_key(&Field::DocumentNumber), "seed {seed}");
            }
        }
    }
    eprintln!("one-third scale: {passed} passed, {retakes} retakes, {unread} printed fields reported unread");
    assert!(passed >= 10, "{passed} of 12 passed, {retakes} retakes");
}

/// The checks see only typed, confident values: a date caption over a place name, a name caption over a date, a
/// number caption over a word are unread, not "differs from the MRZ".
#[test]
fn values_that_do_not_read_as_their_field_are_unread_not_mismatched() {
    use idv_doc::fields::typed;
    assert!(typed(Field::BirthDate, "ZENITH").is_err());
    assert!(typed(Field::BirthDate, "12 AUG 1974").is_ok());
    assert!(typed(Field::Surname, "12 AUG 1974").is_err());
    assert!(typed(Field::DocumentNumber, "LONDON").is_err());
    assert!(typed(Field::DocumentNumber, "L898902C3").is_ok());
    assert!(typed(Field::Sex, "L").is_err());
    assert!(typed(Field::Nationality, "UTOPIAN").is_ok());
}

/// A zone too small to trust is refused with its measured character height, not by a picture-size rule: at 2 px/mm
/// (250 × 176 px, 4.8 px characters) rendered passports read wrong name lines that no check digit covers.
#[test]
fn a_picture_whose_zone_is_too_small_says_how_small() {
    let req = DocRequest::new(DocTypeSpec::passport("GLB03002"), today());
    for seed in [120u64, 121, 122] {
        let mut spec = SpecimenSpec::new(DocKind::Td3, seed, TODAY);
        spec.px_per_mm = 2.0;
        let sp = idv_specimen::render(&spec, spec_assets()).unwrap();
        match engine().read_image(&sp.image, &req) {
            Err(DocError::Retake(why)) => assert!(why.contains("pixels tall"), "{why}"),
            Ok(r) => panic!("seed {seed}: a 250 × 176 passport read as {:?}", r.mrz),
            Err(e) => panic!("{e}"),
        }
    }
}
