//! Every ICAO 9303 layout beyond TD3 and TD1 (TD2 cards, MRV-A and MRV-B visas) on rendered specimens, through the
//! whole pipeline, and read as "any MRZ document" (`GLB00000`), where the layout is detected, not told.

use idv_doc::mrz_read::{self, MrzFormat};
use idv_doc::{DocEngine, DocRequest, DocTypeSpec, Field};
use idv_specimen::{CheckDigit, DocKind};

use crate::common::{TODAY, engine, lines, spec_assets, specimen, swap_at, today};

fn request(kind: DocKind) -> DocRequest {
    let spec = match kind {
        DocKind::Td2 => DocTypeSpec::td2_card("GLB01002"),
        DocKind::MrvA => DocTypeSpec::visa("GLB07001", MrzFormat::MrvA),
        DocKind::MrvB => DocTypeSpec::visa("GLB07002", MrzFormat::MrvB),
        _ => unreachable!(),
    };
    DocRequest::new(spec, today())
}

fn format_of(kind: DocKind) -> MrzFormat {
    match kind {
        DocKind::Td2 => MrzFormat::Td2,
        DocKind::MrvA => MrzFormat::MrvA,
        _ => MrzFormat::MrvB,
    }
}

fn read(e: &DocEngine, sp: &idv_specimen::Specimen, req: &DocRequest) -> idv_doc::DocReading {
    e.read_image(&sp.image, req).unwrap_or_else(|err| panic!("{}: {err}", sp.truth.kind.as_str()))
}

#[test]
fn td2_cards_and_both_visa_formats_read_back_exactly_and_pass() {
    for (kind, seed, distortion) in [
        (DocKind::Td2, 31u64, "clean"),
        (DocKind::Td2, 32, "phone"),
        (DocKind::MrvA, 33, "clean"),
        (DocKind::MrvA, 34, "perspective"),
        (DocKind::MrvB, 35, "clean"),
        (DocKind::MrvB, 36, "phone"),
    ] {
        let label = format!("{} seed {seed} {distortion}", kind.as_str());
        let sp = specimen(kind, seed, distortion);
        let r = read(engine(), &sp, &request(kind));
        let m = r.mrz.as_ref().unwrap_or_else(|| panic!("{label}: no MRZ"));
        assert_eq!((m.format, &m.lines), (format_of(kind), &sp.truth.mrz), "{label}");
        assert!(m.valid && m.repairs.is_empty(), "{label}: {m:?}");
        assert!(r.passed(), "{label}: {:?}", r.failed_checks());
        let id = &sp.truth.identity;
        assert_eq!(r.fields.get(&Field::DocumentNumber), Some(&id.document_number), "{label}");
        assert_eq!(r.fields.get(&Field::BirthDate), Some(&id.birth_date.to_string()), "{label}");
        assert_eq!(r.fields.get(&Field::ExpiryDate), Some(&id.expiry_date.to_string()), "{label}");
        assert_eq!(r.fields.get(&Field::Surname), Some(&id.surname), "{label}");
        assert!(r.portrait.as_ref().is_some_and(|p| p.face_refined), "{label}: portrait");
        // Visas have no composite digit and TD2 has no personal-number digit: only the layout's own checks run.
        let names: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.contains(&"mrz_check_composite"), kind == DocKind::Td2, "{label}: {names:?}");
        assert!(!names.contains(&"mrz_check_personal_number"), "{label}: {names:?}");
    }
}

#[test]
fn any_mrz_document_detects_each_layout_and_a_wrong_type_is_named() {
    let any = DocRequest::new(DocTypeSpec::any("GLB00000"), today());
    for (kind, want) in [
        (DocKind::Td3, MrzFormat::Td3),
        (DocKind::Td1Back, MrzFormat::Td1),
        (DocKind::Td2, MrzFormat::Td2),
        (DocKind::MrvA, MrzFormat::MrvA),
        (DocKind::MrvB, MrzFormat::MrvB),
    ] {
        let sp = specimen(kind, 41, "clean");
        let r = read(engine(), &sp, &any);
        let m = r.mrz.as_ref().unwrap();
        assert_eq!((m.format, &m.lines), (want, &sp.truth.mrz), "{}", kind.as_str());
        assert!(r.passed(), "{}: {:?}", kind.as_str(), r.failed_checks());
    }
    // A visa presented where a passport was asked for: read as what it is, and the type check says so.
    let sp = specimen(DocKind::MrvA, 42, "clean");
    let r = read(engine(), &sp, &DocRequest::new(DocTypeSpec::passport("GLB03002"), today()));
    let failed: Vec<&str> = r.failed_checks().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(r.mrz.as_ref().map(|m| m.format), Some(MrzFormat::MrvA));
    assert!(failed.contains(&"document_type_matches"), "{failed:?}");
}

#[test]
fn a_check_digit_printed_wrong_stays_wrong_in_every_new_layout() {
    for kind in [DocKind::Td2, DocKind::MrvA, DocKind::MrvB] {
        let mut spec = idv_specimen::SpecimenSpec::new(kind, 51, TODAY);
        spec.tamper.wrong_check_digits = vec![CheckDigit::BirthDate];
        let sp = idv_specimen::render(&spec, spec_assets()).unwrap();
        let r = read(engine(), &sp, &request(kind));
        let m = r.mrz.as_ref().unwrap();
        assert_eq!(m.lines, sp.truth.mrz, "{}: read as printed, not repaired", kind.as_str());
        assert!(!m.valid, "{}", kind.as_str());
        let failed: Vec<&str> = r.failed_checks().iter().map(|c| c.name.as_str()).collect();
        assert!(failed.contains(&"mrz_check_birth_date"), "{}: {failed:?}", kind.as_str());
    }
}

#[test]
fn decoding_tells_passports_from_visas_and_cards_from_visas_by_the_document_code() {
    let td3 = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
    let mrva = ["V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L8988901C4XXX4009078F96121096ZE184226B<<<<<<"];
    let td2 = ["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"];
    let mrvb = ["V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "L8988901C4XXX4009078F9612109<<<<<<<<"];
    for (text, want) in
        [(&td3, MrzFormat::Td3), (&mrva, MrzFormat::MrvA), (&td2, MrzFormat::Td2), (&mrvb, MrzFormat::MrvB)]
    {
        let text: Vec<String> = text.iter().map(|s| s.to_string()).collect();
        let found: Vec<(f32, mrz_read::LineRead)> =
            lines(&text).into_iter().enumerate().map(|(i, l)| (i as f32 * 10.0, l)).collect();
        let r = mrz_read::find(&found).unwrap_or_else(|| panic!("{want:?}: nothing decoded"));
        assert_eq!((r.format, r.lines.clone()), (want, text.clone()), "{want:?}");
        assert!(r.valid(), "{want:?}: {:?}", r.data.checks);
    }
    // A visa's only protection is each field's own digit: one slipped digit in the number is not "repaired" into
    // validity from a weak runner-up.
    let bad = swap_at(mrvb[1], 3, '9');
    let text = vec![mrvb[0].to_string(), bad.clone()];
    let found: Vec<(f32, mrz_read::LineRead)> =
        lines(&text).into_iter().enumerate().map(|(i, l)| (i as f32 * 10.0, l)).collect();
    let r = mrz_read::find(&found).unwrap();
    assert_eq!(r.lines[1], bad);
    assert!(!r.valid());
}
