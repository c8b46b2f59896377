use idv_flow::*;

use crate::fixtures::*;

fn decided(product: Product, steps: Vec<StepEvidence>) -> Verdict {
    let mut ev = Evidence::default();
    for s in steps {
        ev.record(s);
    }
    decide(&policy(product), &ev)
}

#[test]
fn every_subcode_has_a_stable_code() {
    let codes: Vec<&str> = SubCode::ALL.iter().map(|s| s.code()).collect();
    assert_eq!(codes, ["200", "201", "202", "203", "204", "205", "207", "208", "209", "210", "211"]);
    for s in SubCode::ALL {
        assert_eq!(SubCode::from_code(s.code()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.code());
    }
    assert!(serde_json::from_str::<SubCode>("\"206\"").is_err());
}

#[test]
fn every_subcode_is_documented() {
    let doc = include_str!("../../../../docs/subcodes.md");
    for s in SubCode::ALL {
        assert!(doc.contains(&format!("| {} |", s.code())), "docs/subcodes.md lacks {}", s.code());
    }
}

#[test]
fn the_document_rule() {
    use CheckClass::*;
    assert_eq!(document_sub_code(&good_checks()), None);
    let expired = [check("mrz_present", Consistency, true), check("not_expired", Validity, false)];
    assert_eq!(document_sub_code(&expired), Some(SubCode::DocumentExpired));
    let not_yet = [check("already_valid", Validity, false)];
    assert_eq!(document_sub_code(&not_yet), Some(SubCode::DocumentExpired));
    // Expired AND tampered is invalid, whatever order the checks ran in.
    let both = [check("not_expired", Validity, false), check("mrz_vs_printed_surname", Consistency, false)];
    assert_eq!(document_sub_code(&both), Some(SubCode::DocumentInvalid));
    let both_rev = [both[1].clone(), both[0].clone()];
    assert_eq!(document_sub_code(&both_rev), Some(SubCode::DocumentInvalid));
}

#[test]
fn document_failures_come_first() {
    use CheckClass::*;
    let bad = vec![check("mrz_check_composite", Consistency, false)];
    let v = decided(Product::Ekyc, vec![doc(Page::Front, bad, true), face(matched(), LivenessOutcome::Attack)]);
    assert_eq!(v.sub_code, SubCode::DocumentInvalid);
    assert!(!v.passed);
    assert_eq!(v.reasons[0], "document front: mrz_check_composite: mrz_check_composite failed");
    assert!(v.reasons.iter().any(|r| r.starts_with("liveness: planar_motion")), "every failure has its reason");

    let expired = vec![check("not_expired", Validity, false)];
    let v = decided(Product::EkycPro, vec![doc(Page::Front, expired, true), face(matched(), LivenessOutcome::Passed)]);
    assert_eq!(v.sub_code, SubCode::DocumentExpired);
    // A failed check on the back page counts like one on the front.
    let v = decided(
        Product::Ekyc,
        vec![
            doc(Page::Front, good_checks(), true),
            doc(Page::Back, vec![check("mrz_present", Consistency, false)], false),
            face(matched(), LivenessOutcome::Passed),
        ],
    );
    assert_eq!(v.sub_code, SubCode::DocumentInvalid);
    assert!(v.reasons[0].starts_with("document back: mrz_present"), "{:?}", v.reasons);
}

#[test]
fn id_ocr_is_the_document_alone() {
    assert_eq!(decided(Product::IdOcr, vec![doc(Page::Front, good_checks(), false)]).sub_code, SubCode::Passed);
    let v = decided(Product::IdOcr, vec![]);
    assert_eq!((v.sub_code, v.reasons[0].as_str()), (SubCode::DocumentInvalid, "no document page was accepted"));
}

#[test]
fn the_face_against_the_reference() {
    let mismatch = Comparison::Compared { score: 12.0, cosine: 0.05, matched: false };
    let v =
        decided(Product::Ekyc, vec![doc(Page::Front, good_checks(), true), face(mismatch, LivenessOutcome::Passed)]);
    assert_eq!(v.sub_code, SubCode::FaceMismatch);
    let unusable = Comparison::ReferenceUnusable { why: "no face in the portrait".into() };
    let v =
        decided(Product::Ekyc, vec![doc(Page::Front, good_checks(), true), face(unusable, LivenessOutcome::Passed)]);
    assert_eq!(v.sub_code, SubCode::FaceMismatch, "an unusable reference is no match");
    let v = decided(
        Product::Ekyc,
        vec![doc(Page::Front, good_checks(), false), face(Comparison::NotCompared, LivenessOutcome::Passed)],
    );
    assert_eq!(v.sub_code, SubCode::NoReferenceFace);
    // FACE_LIVENESS without a reference face compares with nothing, and that is not a failure.
    let v = decided(Product::FaceLiveness, vec![face(Comparison::NotCompared, LivenessOutcome::Passed)]);
    assert_eq!(v.sub_code, SubCode::Passed);
}

#[test]
fn liveness_attacks_and_missing_faces() {
    let v = decided(Product::FaceLiveness, vec![face(matched(), LivenessOutcome::Attack)]);
    assert_eq!(v.sub_code, SubCode::LivenessFailed);
    assert_eq!(v.reasons, vec!["liveness: planar_motion: homography residual 0.4 px".to_string()]);
    let v = decided(Product::FaceLiveness, vec![]);
    assert_eq!((v.sub_code, v.reasons[0].as_str()), (SubCode::LivenessFailed, "no face step was accepted"));
}

#[test]
fn the_verdict_keeps_its_evidence_and_images() {
    let v =
        decided(Product::Ekyc, vec![doc(Page::Front, good_checks(), true), face(matched(), LivenessOutcome::Passed)]);
    let d = v.decision.as_ref().unwrap();
    assert_eq!((d.product, d.doc_type.as_deref()), (Product::Ekyc, Some("GLB03002")));
    let images = d.evidence.images();
    assert_eq!(
        images.keys().copied().collect::<Vec<_>>(),
        [ImageKind::DocFront, ImageKind::DocPortrait, ImageKind::Selfie]
    );
    let back: Verdict = serde_json::from_slice(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(back, v);
}

#[test]
fn flows_that_end_without_a_decision() {
    assert_eq!(timed_out(100, 200, None, 300), None);
    assert_eq!(timed_out(200, 200, None, 300), Some(Timeout::Expired));
    assert_eq!(timed_out(150, 200, Some(10), 100), Some(Timeout::Idle));
    assert_eq!(timed_out(150, 200, Some(50), 100), None);
    let v = timeout_verdict(Timeout::Idle);
    assert_eq!((v.passed, v.sub_code), (false, SubCode::TimedOut));
    assert_eq!(v.reasons, vec![Timeout::Idle.reason().to_string()]);
    let c = cancelled();
    assert_eq!((c.sub_code, c.decision.is_none()), (SubCode::Cancelled, true));
}

#[test]
fn one_picture_document_reads() {
    use CheckClass::*;
    let ok = reading(good_checks(), true);
    let out = read_document(&ok, DocRequirement::ChecksOnly, false, "IdThreshold=3");
    assert_eq!((out.passed, out.sub_code, out.reasons.len()), (true, SubCode::Passed, 0));
    let out = read_document(&reading(good_checks(), false), DocRequirement::Portrait, false, "IdThreshold=0");
    assert_eq!((out.passed, out.sub_code), (false, SubCode::DocumentInvalid));
    assert_eq!(out.reasons, vec!["IdThreshold=0: no portrait was found on the document".to_string()]);
    // A card's back has no portrait to ask for.
    assert!(read_document(&reading(good_checks(), false), DocRequirement::Portrait, true, "x").passed);
    let out = read_document(&ok, DocRequirement::Complete, false, "IdThreshold=1");
    assert!(
        out.reasons.iter().any(|r| r == "IdThreshold=1: printed field given_names was not read"),
        "{:?}",
        out.reasons
    );
    let mut expired = reading(vec![check("not_expired", Validity, false)], true);
    let out = read_document(&expired, DocRequirement::ChecksOnly, false, "x");
    assert_eq!((out.sub_code, out.reasons[0].as_str()), (SubCode::DocumentExpired, "not_expired: not_expired failed"));
    expired.checks.push(check("mrz_check_composite", Consistency, false));
    assert_eq!(read_document(&expired, DocRequirement::ChecksOnly, false, "x").sub_code, SubCode::DocumentInvalid);
    let none = reading(Vec::new(), true);
    assert_eq!(read_document(&none, DocRequirement::ChecksOnly, false, "x").sub_code, SubCode::DocumentInvalid);
}

/// A TD1 page with these identity fields: the front's are printed, the back's come from its MRZ.
fn card_page(page: Page, fields: &[(DocField, &str)]) -> StepEvidence {
    let StepEvidence::Document(mut d) = doc(page, good_checks(), page == Page::Front) else { unreachable!() };
    d.reading.doc_type = "GLB01001".into();
    d.reading.class = DocClass::IdCard;
    d.reading.fields = fields.iter().map(|(f, v)| (*f, v.to_string())).collect();
    d.reading.printed = if page == Page::Front { fields.iter().map(|(f, _)| *f).collect() } else { Default::default() };
    StepEvidence::Document(d)
}

fn card(front: &[(DocField, &str)], back: &[(DocField, &str)]) -> Verdict {
    decided(
        Product::Ekyc,
        vec![card_page(Page::Front, front), card_page(Page::Back, back), face(matched(), LivenessOutcome::Passed)],
    )
}

#[test]
fn the_pages_of_a_card_must_be_of_one_document() {
    use DocField::*;
    let front = [
        (Surname, "Müller-Lüdenscheidt"),
        (GivenNames, "Anna Maria"),
        (DocumentNumber, "l01x00t47"),
        (BirthDate, "1974-08-12"),
    ];
    // What the MRZ legitimately changes: upper case, transliteration both ways, fillers, a truncated given name,
    // a number's formatting.
    for (surname, given, number) in [
        ("MULLER LUDENSCHEIDT", "ANNA MARIA", "L01X00T47"),
        ("MUELLER<LUEDENSCHEIDT", "ANNA<MA", "L01 X00-T47"),
        ("MUELLERLUEDENSCHEIDT", "ANNA", "L01X00T47"),
    ] {
        let v = card(
            &front,
            &[(Surname, surname), (GivenNames, given), (DocumentNumber, number), (BirthDate, "1974-08-12")],
        );
        assert_eq!((v.passed, v.sub_code), (true, SubCode::Passed), "{surname} {given}: {:?}", v.reasons);
    }

    // The back of another card: every differing field is named (not its value), and it is a document failure.
    let other =
        [(Surname, "ERIKSSON"), (GivenNames, "ANNA MARIA"), (DocumentNumber, "D23145890"), (BirthDate, "1980-01-31")];
    let v = card(&front, &other);
    assert_eq!((v.passed, v.sub_code), (false, SubCode::DocumentInvalid));
    let reason = v.reasons.iter().find(|r| r.starts_with("document pages disagree")).expect("a cross-page reason");
    assert_eq!(
        reason,
        "document pages disagree: the front's surname, document_number, birth_date differ from the back's MRZ \
         (the pages are not of one document)"
    );
    assert!(!reason.contains("ERIKSSON") && !reason.contains("1980"), "no personal data in the reason");

    // Exact for the number and the birth date: one character or one day is another document.
    for (field, value) in [(DocumentNumber, "L01X00T48"), (BirthDate, "1974-08-13")] {
        let mut back = front.to_vec();
        back.retain(|(f, _)| *f != field);
        back.push((field, value));
        let v = card(&front, &back);
        assert_eq!(v.sub_code, SubCode::DocumentInvalid, "{field:?}");
        assert!(v.reasons.iter().any(|r| r.contains(field.as_str())), "{:?}", v.reasons);
    }
    // A name is a prefix only in the MRZ's direction: a longer back name is not a truncation.
    let v = card(&[(Surname, "ANNA")], &[(Surname, "ANNABELLE")]);
    assert_eq!(v.sub_code, SubCode::DocumentInvalid, "{:?}", v.reasons);
    // Nothing to compare (an unreadable front) is no way round the rule.
    let v = card(&[], &other);
    assert_eq!(v.sub_code, SubCode::DocumentInvalid);
    assert!(v.reasons.iter().any(|r| r.starts_with("document pages: no identity field")), "{:?}", v.reasons);
    // A field only one page gives is not compared; a name the MRZ cannot spell is not compared either.
    assert!(
        card(&[(Surname, "Иванов"), (BirthDate, "1974-08-12")], &[(Surname, "IVANOV"), (BirthDate, "1974-08-12")])
            .passed
    );
    // One page alone has nothing to be compared with.
    assert!(decided(Product::IdOcr, vec![card_page(Page::Front, &front)]).passed);
}
