//! The machine-readable zone: valid for the identity, and broken exactly where a defect was asked for.

use idv_specimen::{CheckDigit, DocKind, Identity, SpecimenSpec, Tamper, Validity, render};

use crate::common::{TODAY, assets};

#[test]
fn td3_and_td1_zones_parse_as_valid_with_the_identity_values() {
    for seed in 0..12 {
        let spec = SpecimenSpec::new(DocKind::Td3, seed, TODAY);
        let sp = render(&spec, assets()).unwrap();
        let t = &sp.truth;
        assert_eq!(t.mrz.len(), 2);
        let doc = mrz::parse_td3(&t.mrz[0], &t.mrz[1]).unwrap();
        assert!(doc.valid(), "seed {seed}: {:?}", t.mrz);
        assert_eq!(doc.document_number, t.identity.document_number);
        assert_eq!(doc.date_of_birth.to_string(), t.identity.birth_date.to_string());
        assert_eq!(doc.date_of_expiry.to_string(), t.identity.expiry_date.to_string());

        let spec = SpecimenSpec::new(DocKind::Td1Back, seed, TODAY);
        let t = render(&spec, assets()).unwrap().truth;
        assert_eq!(t.mrz.len(), 3);
        let doc = mrz::parse_td1(&t.mrz[0], &t.mrz[1], &t.mrz[2]).unwrap();
        assert!(doc.valid(), "seed {seed}: {:?}", t.mrz);
        assert_eq!(doc.issuing_country, t.identity.issuing_country);
    }
}

#[test]
fn icao_specimen_reproduces_the_published_line_prefixes() {
    let mut spec = SpecimenSpec::new(DocKind::Td3, 1, TODAY);
    spec.identity = Identity::icao_specimen(TODAY, Validity::Valid);
    let t = render(&spec, assets()).unwrap().truth;
    assert_eq!(t.mrz[0], "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<");
    assert!(t.mrz[1].starts_with("L898902C36UTO7408122F"), "{}", t.mrz[1]);
}

#[test]
fn each_wrong_check_digit_breaks_exactly_that_check() {
    let cases = [
        (CheckDigit::DocumentNumber, "document_number"),
        (CheckDigit::BirthDate, "date_of_birth"),
        (CheckDigit::ExpiryDate, "date_of_expiry"),
        (CheckDigit::Composite, "composite"),
    ];
    for (digit, name) in cases {
        for kind in [DocKind::Td3, DocKind::Td1Back] {
            let mut spec = SpecimenSpec::new(kind, 7, TODAY);
            spec.tamper = Tamper { wrong_check_digits: vec![digit], printed_mismatch: vec![] };
            let t = render(&spec, assets()).unwrap().truth;
            assert_ne!(t.mrz, t.mrz_issued);
            let doc = if kind == DocKind::Td3 {
                mrz::parse_td3(&t.mrz[0], &t.mrz[1]).unwrap()
            } else {
                mrz::parse_td1(&t.mrz[0], &t.mrz[1], &t.mrz[2]).unwrap()
            };
            let failed: Vec<&str> = doc.checks.failed().iter().map(|f| f.as_str()).collect();
            let expect: Vec<&str> =
                if digit == CheckDigit::Composite { vec!["composite"] } else { vec![name, "composite"] };
            // A changed check digit also changes the composite's input, except for the composite itself.
            assert!(failed.contains(&name), "{kind:?} {digit:?}: failed {failed:?}");
            assert!(failed.iter().all(|f| expect.contains(f)), "{kind:?} {digit:?}: failed {failed:?}");
        }
    }
}

#[test]
fn td1_front_has_no_mrz_and_asking_for_a_td3_only_digit_on_td1_is_refused() {
    let t = render(&SpecimenSpec::new(DocKind::Td1Front, 3, TODAY), assets()).unwrap().truth;
    assert!(t.mrz.is_empty());
    let mut spec = SpecimenSpec::new(DocKind::Td1Back, 3, TODAY);
    spec.tamper.wrong_check_digits = vec![CheckDigit::PersonalNumber];
    let err = render(&spec, assets()).err().expect("TD1 has no personal-number check digit");
    assert!(err.to_string().contains("PersonalNumber"), "{err}");
}
