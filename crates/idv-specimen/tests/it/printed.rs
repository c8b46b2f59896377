//! The printed (visual-zone) fields: mismatches as asked, validity flags, each document's date format.

use idv_specimen::{DocKind, Identity, PrintedField, SpecimenSpec, Validity, Ymd, render};

use crate::common::{TODAY, assets};

#[test]
fn mismatched_fields_differ_and_others_match_the_identity() {
    let mut spec = SpecimenSpec::new(DocKind::Td3, 11, TODAY);
    spec.tamper.printed_mismatch = vec![PrintedField::Surname, PrintedField::BirthDate];
    let t = render(&spec, assets()).unwrap().truth;
    assert_ne!(t.printed[&PrintedField::Surname], t.identity.surname);
    assert_ne!(t.printed[&PrintedField::BirthDate], idv_specimen::printed_date(DocKind::Td3, t.identity.birth_date));
    assert_eq!(t.printed[&PrintedField::GivenNames], t.identity.given_names);
    assert_eq!(t.printed[&PrintedField::DocumentNumber], t.identity.document_number);
}

#[test]
fn validity_flags_follow_the_dates() {
    for (v, expired, nyv) in
        [(Validity::Valid, false, false), (Validity::Expired, true, false), (Validity::NotYetValid, false, true)]
    {
        let mut spec = SpecimenSpec::new(DocKind::Td3, 5, TODAY);
        spec.identity = Identity::generate(5, TODAY, v);
        let t = render(&spec, assets()).unwrap().truth;
        assert_eq!((t.expired, t.not_yet_valid), (expired, nyv), "{v:?}");
    }
}

#[test]
fn printed_dates_use_each_documents_format() {
    assert_eq!(idv_specimen::printed_date(DocKind::Td3, Ymd::new(1974, 8, 12)), "12 AUG 1974");
    assert_eq!(idv_specimen::printed_date(DocKind::Td1Front, Ymd::new(1974, 8, 12)), "12.08.1974");
}
