//! Defects the engine must name: wrong check digits, printed/MRZ mismatches, validity, countries, bad pictures.

use idv_doc::{CheckKind, DocError, DocRequest, DocTypeSpec};
use idv_specimen::{CheckDigit, Distortion, DocKind, Identity, PrintedField, SpecimenSpec, Validity};

use crate::common::{TODAY, engine, spec_assets, today};

fn read(spec: SpecimenSpec, doc_type: DocTypeSpec) -> idv_doc::DocReading {
    let sp = idv_specimen::render(&spec, spec_assets()).unwrap();
    engine().read_image(&sp.image, &DocRequest::new(doc_type, today())).unwrap()
}

fn passport() -> DocTypeSpec {
    DocTypeSpec::passport("GLB03002")
}

/// The kinds of the failed checks (a consistency failure and a validity one are reported differently).
fn failed_kinds(r: &idv_doc::DocReading) -> Vec<CheckKind> {
    r.failed_checks().iter().map(|c| c.kind).collect()
}

fn failed(r: &idv_doc::DocReading) -> Vec<String> {
    r.failed_checks().iter().map(|c| c.name.clone()).collect()
}

#[test]
fn wrong_check_digits_are_caught_and_named() {
    let mut spec = SpecimenSpec::new(DocKind::Td3, 21, TODAY);
    spec.distortion = Distortion::preset("jpeg").unwrap();
    spec.tamper.wrong_check_digits = vec![CheckDigit::BirthDate];
    let r = read(spec, passport());
    assert!(!r.passed());
    assert_eq!(failed_kinds(&r), vec![CheckKind::Consistency; 2]);
    assert_eq!(failed(&r), vec!["mrz_check_birth_date", "mrz_check_composite"]);
    let c = r.checks.iter().find(|c| c.name == "mrz_check_birth_date").unwrap();
    assert!(c.reason.contains("birth_date check digit"), "{}", c.reason);
}

#[test]
fn printed_fields_disagreeing_with_the_mrz_are_named_with_both_values() {
    let mut spec = SpecimenSpec::new(DocKind::Td3, 22, TODAY);
    spec.tamper.printed_mismatch = vec![PrintedField::Surname, PrintedField::BirthDate];
    let truth_surname = spec.identity.surname.clone();
    let r = read(spec, passport());
    let f = failed(&r);
    assert!(f.contains(&"mrz_vs_printed_surname".to_string()), "{f:?}");
    assert!(f.contains(&"mrz_vs_printed_birth_date".to_string()), "{f:?}");
    assert_eq!(f.len(), 2, "{f:?}");
    let c = r.checks.iter().find(|c| c.name == "mrz_vs_printed_surname").unwrap();
    assert!(c.reason.contains("differs from the MRZ") && c.reason.contains(&truth_surname), "{}", c.reason);
}

#[test]
fn expired_and_not_yet_valid_documents_fail_with_their_own_reason() {
    let mut spec = SpecimenSpec::new(DocKind::Td3, 23, TODAY);
    spec.identity = Identity::generate(23, TODAY, Validity::Expired);
    let r = read(spec, passport());
    assert_eq!(failed(&r), vec!["not_expired"]);
    assert!(r.checks.iter().any(|c| c.name == "not_expired" && c.reason.starts_with("document expired on")));
    assert_eq!(failed_kinds(&r), vec![CheckKind::Validity]);

    let mut spec = SpecimenSpec::new(DocKind::Td3, 24, TODAY);
    spec.identity = Identity::generate(24, TODAY, Validity::NotYetValid);
    let r = read(spec, passport());
    assert_eq!(failed(&r), vec!["already_valid"]);
    assert_eq!(failed_kinds(&r), vec![CheckKind::Validity]);
}

#[test]
fn unknown_country_and_wrong_doc_type_are_named() {
    let mut spec = SpecimenSpec::new(DocKind::Td3, 25, TODAY);
    spec.identity.issuing_country = "ZZX".into();
    spec.identity.nationality = "FRA".into();
    let r = read(spec.clone(), passport());
    assert_eq!(failed(&r), vec!["issuing_country_known"]);

    spec.identity.issuing_country = "ITA".into();
    let france = DocTypeSpec { country: Some("FRA".into()), ..DocTypeSpec::passport("FRA03001") };
    let r = read(spec, france);
    assert_eq!(failed(&r), vec!["issuing_country_matches_doc_type"]);
}

#[test]
fn unusable_pictures_get_a_retake_or_a_photo_error_never_a_panic() {
    let blank = image::RgbImage::from_pixel(1280, 960, image::Rgb([128, 120, 110]));
    let req = DocRequest::new(passport(), today());
    match engine().read_image(&blank, &req) {
        Err(DocError::Retake(reason)) => assert!(reason.contains("machine-readable zone"), "{reason}"),
        other => panic!("expected a retake, got {:?}", other.map(|r| r.checks)),
    }
    let err = engine().read_bytes(b"not an image at all", &req).expect_err("must fail");
    assert!(matches!(err, DocError::UnqualifiedPhoto(_)), "{err}");
    let tiny = image::RgbImage::from_pixel(120, 90, image::Rgb([255, 255, 255]));
    assert!(matches!(engine().read_image(&tiny, &req), Err(DocError::Retake(_))));
}
