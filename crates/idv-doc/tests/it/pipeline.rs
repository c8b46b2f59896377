//! The full pipeline on specimens rendered clean and distorted: fields, MRZ, localisation, portrait.

use idv_doc::mrz_read::MrzFormat;
use idv_doc::{CardSide, DocRequest, DocTypeSpec, Field};
use idv_specimen::{DocKind, PrintedField};

use crate::common::{engine, specimen, today};

fn passport() -> DocRequest {
    DocRequest::new(DocTypeSpec::passport("GLB03002"), today())
}

fn assert_reads_back(sp: &idv_specimen::Specimen, r: &idv_doc::DocReading, label: &str) {
    if !sp.truth.mrz.is_empty() {
        assert_eq!(r.mrz.as_ref().map(|m| &m.lines), Some(&sp.truth.mrz), "{label}: MRZ");
    }
    for (pf, v) in &sp.truth.printed {
        let f = field(*pf);
        assert_eq!(r.printed.get(&f).map(|s| s.as_str()), Some(v.as_str()), "{label}: printed {}", pf.as_str());
    }
    assert!(r.passed(), "{label}: failed checks {:?}", r.failed_checks());
}

fn field(p: PrintedField) -> Field {
    Field::ALL.into_iter().find(|f| f.as_str() == p.as_str()).unwrap()
}

#[test]
fn passport_reads_back_field_for_field_clean_and_distorted() {
    for (seed, d) in [(1u64, "clean"), (2, "phone"), (3, "perspective"), (4, "third")] {
        let sp = specimen(DocKind::Td3, seed, d);
        let r = engine().read_image(&sp.image, &passport()).unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_reads_back(&sp, &r, d);
        let info = &r.fields;
        let id = &sp.truth.identity;
        assert_eq!(info.get(&Field::DocumentNumber), Some(&id.document_number), "{d}");
        assert_eq!(info.get(&Field::BirthDate), Some(&id.birth_date.to_string()), "{d}");
        assert_eq!(info.get(&Field::ExpiryDate), Some(&id.expiry_date.to_string()), "{d}");
        assert_eq!(info.get(&Field::IssuingCountry), Some(&id.issuing_country), "{d}");
        assert_eq!(info.get(&Field::Sex), Some(&id.sex.to_string()), "{d}");
        assert!(r.passed() && r.failed_checks().is_empty(), "{d}: {:?}", r.failed_checks());
        assert_eq!(info.get(&Field::Surname), Some(&id.surname), "{d}");
    }
}

#[test]
fn contour_localisation_on_a_photo_and_mrz_fallback_on_a_pale_desk() {
    let sp = specimen(DocKind::Td3, 7, "rotate");
    let r = engine().read_image(&sp.image, &passport()).unwrap();
    assert_eq!(r.located_by, "contour");
    for (got, want) in r.corners.iter().zip(sp.truth.corners) {
        assert!(
            (got[0] - want[0]).abs() < 12.0 && (got[1] - want[1]).abs() < 12.0,
            "{:?} vs {:?}",
            r.corners,
            sp.truth.corners
        );
    }
    let sp = specimen(DocKind::Td3, 8, "pale-desk");
    let r = engine().read_image(&sp.image, &passport()).unwrap();
    assert_eq!(r.located_by, "mrz");
    assert_reads_back(&sp, &r, "pale-desk");
}

#[test]
fn id_card_front_and_back() {
    let req = DocRequest::new(DocTypeSpec::id_card("GLB01001"), today());
    let sp = specimen(DocKind::Td1Front, 11, "perspective");
    let r = engine().read_image(&sp.image, &req).unwrap();
    assert_reads_back(&sp, &r, "front");
    assert!(r.portrait.as_ref().is_some_and(|p| p.face_refined), "front portrait");
    assert_eq!(r.fields.get(&Field::DocumentNumber), Some(&sp.truth.identity.document_number));

    let sp = specimen(DocKind::Td1Back, 11, "phone");
    let r = engine().read_image(&sp.image, &req.clone().with_side(CardSide::Back)).unwrap();
    assert_reads_back(&sp, &r, "back");
    assert!(r.portrait.is_none());
    assert_eq!(r.mrz.as_ref().unwrap().format, MrzFormat::Td1);
}

#[test]
fn passport_portrait_is_found_by_the_face_detector_inside_the_photo_zone() {
    let sp = specimen(DocKind::Td3, 12, "clean");
    let r = engine().read_image(&sp.image, &passport()).unwrap();
    let p = r.portrait.expect("portrait");
    assert!(p.face_refined);
    let [zx, zy, zw, zh] = sp.truth.portrait_mm.unwrap();
    let c = [p.box_mm[0] + p.box_mm[2] / 2.0, p.box_mm[1] + p.box_mm[3] / 2.0];
    assert!(
        c[0] > zx && c[0] < zx + zw && c[1] > zy && c[1] < zy + zh,
        "{:?} not in {:?}",
        p.box_mm,
        sp.truth.portrait_mm
    );
}
