//! Server-only eKYC (eKYC_MIN): one document picture and one face picture, decided by `decide_document_face`.

use idv_flow::*;

use crate::fixtures::{check, good_checks, matched, reading};

fn decide(r: &DocReading, claimed: &ClaimedIdentity, cmp: &Comparison, issues: &[String]) -> DocOutcome {
    let doc = read_document(r, DocRequirement::ChecksOnly, false, "IdThreshold=3");
    decide_document_face(doc, r, claimed, cmp, issues)
}

fn with_identity(mut r: DocReading) -> DocReading {
    r.fields.insert(DocField::GivenNames, "ANNA MARIA".into());
    r.fields.insert(DocField::DocumentNumber, "L898902C3".into());
    r
}

#[test]
fn sub_codes_follow_the_order_a_merchant_acts_on() {
    let good = with_identity(reading(good_checks(), true));
    let none = ClaimedIdentity::default();
    let ok = decide(&good, &none, &matched(), &[]);
    assert_eq!((ok.passed, ok.sub_code), (true, SubCode::Passed));
    assert!(ok.reasons.iter().any(|r| r.contains("liveness: not checked")), "{:?}", ok.reasons);

    let other = Comparison::Compared { score: 21.0, cosine: 0.05, matched: false };
    assert_eq!(decide(&good, &none, &other, &[]).sub_code, SubCode::FaceMismatch);
    assert_eq!(decide(&good, &none, &Comparison::NotCompared, &[]).sub_code, SubCode::NoReferenceFace);
    let unusable = Comparison::ReferenceUnusable { why: "no face".into() };
    assert_eq!(decide(&good, &none, &unusable, &[]).sub_code, SubCode::NoReferenceFace);
    let blurry = decide(&good, &none, &matched(), &["Blurry".to_string()]);
    assert_eq!((blurry.passed, blurry.sub_code), (false, SubCode::PoorQuality));

    // The document comes first: a tampered document with a stranger's face is a document failure.
    let mut bad = good_checks();
    bad.push(check("mrz_check_birth_date", CheckClass::Consistency, false));
    let tampered = with_identity(reading(bad, true));
    let out = decide(&tampered, &none, &other, &[]);
    assert_eq!(out.sub_code, SubCode::DocumentInvalid);
    assert!(out.reasons.iter().any(|r| r.contains("mrz_check_birth_date")), "{:?}", out.reasons);
    let expired = with_identity(reading(vec![check("not_expired", CheckClass::Validity, false)], true));
    assert_eq!(decide(&expired, &none, &matched(), &[]).sub_code, SubCode::DocumentExpired);
}

#[test]
fn the_claimed_identity_must_be_the_one_read() {
    let good = with_identity(reading(good_checks(), true));
    let claim = |name: Option<&str>, number: Option<&str>| ClaimedIdentity {
        name: name.map(str::to_owned),
        number: number.map(str::to_owned),
    };
    for ok in [
        claim(Some("Anna Maria Eriksson"), None),
        claim(Some("ERIKSSON, ANNA MARIA"), Some("l898902c3")),
        claim(None, Some("L898-902 C3")),
    ] {
        assert_eq!(decide(&good, &ok, &matched(), &[]).sub_code, SubCode::Passed, "{ok:?}");
    }
    for (bad, field) in [
        (claim(Some("Anna Eriksson"), None), "DocName"),
        (claim(None, Some("L898902C4")), "DocNo"),
        (claim(Some("Anna Maria Eriksson"), Some("X1")), "DocNo"),
    ] {
        let out = decide(&good, &bad, &matched(), &[]);
        assert_eq!((out.passed, out.sub_code), (false, SubCode::DocumentInvalid), "{bad:?}");
        assert!(out.reasons.iter().any(|r| r.starts_with(field)), "{:?}", out.reasons);
    }
    let unread = reading(good_checks(), true);
    let out = decide(&unread, &claim(None, Some("L898902C3")), &matched(), &[]);
    assert!(out.reasons.iter().any(|r| r.contains("not read")), "{:?}", out.reasons);
}
