//! MRZ decoding and repair on zones of rendered specimens.

use idv_doc::mrz_read::{self, LineRead, MrzFormat};
use idv_specimen::{CheckDigit, DocKind, SpecimenSpec, Tamper};

use crate::common::{TODAY, lines, spec_assets, specimen, swap_at};

#[test]
fn clean_zones_decode_valid_and_unchanged() {
    for seed in 0..10 {
        for kind in [DocKind::Td3, DocKind::Td1Back] {
            let t = specimen(kind, seed, "clean").truth;
            let fmt = if kind == DocKind::Td3 { MrzFormat::Td3 } else { MrzFormat::Td1 };
            let r = mrz_read::decode(fmt, &lines(&t.mrz)).expect("decodes");
            assert!(r.valid(), "{:?}", t.mrz);
            assert_eq!(r.lines, t.mrz);
            assert!(r.repairs.is_empty());
        }
    }
}

#[test]
fn letter_digit_confusions_are_repaired_by_field_type() {
    let t = specimen(DocKind::Td3, 3, "clean").truth;
    let (l1, l2) = (&t.mrz[0], &t.mrz[1]);
    // A digit read as a letter in the birth date (cells 13..19), a letter read as a digit in the
    // nationality (cells 10..13) and in the name.
    let birth_digit = l2.chars().nth(13).unwrap();
    let as_letter = match birth_digit {
        '0' => 'O',
        '1' => 'I',
        '2' => 'Z',
        '5' => 'S',
        '8' => 'B',
        '6' => 'G',
        '4' => 'A',
        _ => 'O',
    };
    let mut bad2 = if "0125864".contains(birth_digit) { swap_at(l2, 13, as_letter) } else { l2.clone() };
    let nat = l2.chars().nth(10).unwrap();
    if let Some(d) = match nat {
        'O' => Some('0'),
        'I' => Some('1'),
        'S' => Some('5'),
        'B' => Some('8'),
        'Z' => Some('2'),
        _ => None,
    } {
        bad2 = swap_at(&bad2, 10, d);
    }
    let bad1 = l1.replacen('O', "0", 1).replacen('I', "1", 1);
    let r = mrz_read::decode(MrzFormat::Td3, &lines(&[bad1.clone(), bad2.clone()])).unwrap();
    assert_eq!(r.lines, t.mrz, "from {bad1} / {bad2}");
    assert!(r.valid());
}

#[test]
fn a_dropped_or_doubled_filler_is_absorbed() {
    let t = specimen(DocKind::Td3, 4, "clean").truth;
    let short = t.mrz[0].replacen("<<<", "<<", 1);
    let long = t.mrz[1].replacen("<<", "<<<", 1);
    let r = mrz_read::decode(MrzFormat::Td3, &lines(&[short, long])).unwrap();
    assert_eq!(r.lines, t.mrz);
}

#[test]
fn a_wrong_check_digit_is_not_repaired_away() {
    for (digit, field) in [
        (CheckDigit::BirthDate, "date_of_birth"),
        (CheckDigit::DocumentNumber, "document_number"),
        (CheckDigit::ExpiryDate, "date_of_expiry"),
    ] {
        let mut spec = SpecimenSpec::new(DocKind::Td3, 8, TODAY);
        spec.tamper = Tamper { wrong_check_digits: vec![digit], printed_mismatch: vec![] };
        let t = idv_specimen::render(&spec, spec_assets()).unwrap().truth;
        let r = mrz_read::decode(MrzFormat::Td3, &lines(&t.mrz)).unwrap();
        assert_eq!(r.lines, t.mrz, "{digit:?}: read as printed, no repair");
        let failed: Vec<&str> = r.data.checks.failed().iter().map(|f| f.as_str()).collect();
        assert!(failed.contains(&field), "{digit:?}: {failed:?}");
    }
}

#[test]
fn a_likely_runner_up_repairs_a_misread_digit_only_when_check_digits_agree() {
    let t = specimen(DocKind::Td3, 5, "clean").truth;
    let mut rows = lines(&t.mrz);
    // Cell 15 (inside the birth date): the recogniser prefers a wrong digit, the true one is close behind.
    let truth = t.mrz[1].chars().nth(15).unwrap();
    let wrong = if truth == '3' { '8' } else { '3' };
    let (ti, wi) = (mrz_read::class_of(truth).unwrap(), mrz_read::class_of(wrong).unwrap());
    let p = &mut rows[1].probs[15];
    *p = [0.0; 37];
    p[wi] = 0.55;
    p[ti] = 0.45;
    let r = mrz_read::decode(MrzFormat::Td3, &rows).unwrap();
    assert_eq!(r.lines, t.mrz);
    assert_eq!(r.repairs, vec![(1, 15, wrong, truth)]);

    // The same swap with an unlikely runner-up stays unrepaired (and the check digit says so).
    let p = &mut rows[1].probs[15];
    p[wi] = 0.99;
    p[ti] = 0.01;
    let r = mrz_read::decode(MrzFormat::Td3, &rows).unwrap();
    assert_ne!(r.lines, t.mrz);
    assert_eq!(r.data.checks.date_of_birth, Some(false));
}

#[test]
fn find_picks_the_zone_among_other_lines() {
    let t = specimen(DocKind::Td1Back, 6, "clean").truth;
    let mut page: Vec<(f32, LineRead)> =
        vec![(10.0, LineRead::from_text("ADDRESS")), (20.0, LineRead::from_text("PORT ARLEN"))];
    for (i, l) in t.mrz.iter().enumerate() {
        page.push((100.0 + i as f32 * 10.0, LineRead::from_text(l)));
    }
    let r = mrz_read::find(&page).unwrap();
    assert_eq!(r.format, MrzFormat::Td1);
    assert_eq!(r.lines, t.mrz);
}
