//! Document engine: MRZ decoding and repair, the PyPI `mrz` package as an independent oracle, and the full
//! pipeline on specimens rendered at test time (clean and distorted), including defects it must name.

use std::path::PathBuf;
use std::sync::OnceLock;

use idv_doc::mrz_read::{self, LineRead, MrzFormat};
use idv_doc::{CardSide, DocEngine, DocError, DocRequest, Field};
use idv_specimen::{
    Assets as SpecAssets, CheckDigit, Distortion, DocKind, Identity, PrintedField, SpecimenSpec, Tamper, Validity, Ymd,
};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn engine() -> &'static DocEngine {
    static E: OnceLock<DocEngine> = OnceLock::new();
    E.get_or_init(|| {
        DocEngine::load(&idv_vision::Assets::new(repo_root()))
            .unwrap_or_else(|e| panic!("document models missing ({e}); run scripts/fetch-assets.sh"))
    })
}

fn spec_assets() -> &'static SpecAssets {
    static A: OnceLock<SpecAssets> = OnceLock::new();
    A.get_or_init(|| {
        SpecAssets::load(&repo_root())
            .unwrap_or_else(|e| panic!("specimen assets missing ({e}); run scripts/fetch-assets.sh"))
    })
}

const TODAY: Ymd = Ymd::new(2026, 5, 1);

fn today() -> mrz::Date {
    mrz::Date::new(TODAY.year, TODAY.month, TODAY.day)
}

fn specimen(kind: DocKind, seed: u64, distortion: &str) -> idv_specimen::Specimen {
    let mut spec = SpecimenSpec::new(kind, seed, TODAY);
    spec.distortion = Distortion::preset(distortion).unwrap();
    idv_specimen::render(&spec, spec_assets()).unwrap()
}

fn lines(text: &[String]) -> Vec<LineRead> {
    text.iter().map(|l| LineRead::from_text(l)).collect()
}

fn swap_at(s: &str, i: usize, c: char) -> String {
    s.chars().enumerate().map(|(k, x)| if k == i { c } else { x }).collect()
}

mod mrz_decoding {
    use super::*;

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
}

mod oracle {
    //! The PyPI `mrz==0.6.2` package (installed by scripts/setup-python.sh) as an independent implementation.
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn python(script: &str, input: &str) -> String {
        let py = repo_root().join(".venv/bin/python");
        assert!(py.is_file(), "{} missing: run scripts/setup-python.sh", py.display());
        let mut child = Command::new(&py)
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "python failed (is mrz==0.6.2 installed? run scripts/setup-python.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn yymmdd(d: Ymd) -> String {
        format!("{:02}{:02}{:02}", d.year % 100, d.month, d.day)
    }

    #[test]
    fn zones_generated_by_python_mrz_decode_here_with_the_same_fields() {
        let ids: Vec<Identity> = (0..12).map(|s| Identity::generate(100 + s, TODAY, Validity::Valid)).collect();
        let mut input = String::new();
        for id in &ids {
            input.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                id.issuing_country,
                id.surname,
                id.given_names,
                id.document_number,
                id.nationality,
                yymmdd(id.birth_date),
                id.sex,
                yymmdd(id.expiry_date),
                id.personal_number.clone().unwrap_or_default()
            ));
        }
        let script = r#"
import sys
from mrz.generator.td3 import TD3CodeGenerator
from mrz.generator.td1 import TD1CodeGenerator
for line in sys.stdin.read().splitlines():
    cc, sn, gn, num, nat, dob, sex, exp, pn = line.split("\t")
    print(str(TD3CodeGenerator("P", cc, sn, gn, num, nat, dob, sex, exp, pn)).replace("\n", "|"))
    print(str(TD1CodeGenerator("I", cc, num, dob, sex, exp, nat, sn, gn, "", pn)).replace("\n", "|"))
"#;
        let out = python(script, &input);
        let zones: Vec<Vec<String>> = out.lines().map(|l| l.split('|').map(str::to_string).collect()).collect();
        assert_eq!(zones.len(), ids.len() * 2);
        for (i, id) in ids.iter().enumerate() {
            for (z, fmt) in [(&zones[2 * i], MrzFormat::Td3), (&zones[2 * i + 1], MrzFormat::Td1)] {
                let r = mrz_read::decode(fmt, &lines(z)).unwrap_or_else(|| panic!("{z:?}"));
                assert!(r.valid(), "{z:?}: {:?}", r.data.checks);
                assert_eq!(&r.lines, z);
                assert_eq!(r.data.document_number, id.document_number);
                assert_eq!(r.data.date_of_birth.to_string(), id.birth_date.to_string());
                assert_eq!(r.data.date_of_expiry.to_string(), id.expiry_date.to_string());
                assert_eq!(r.data.issuing_country.trim_end_matches('<'), id.issuing_country);
            }
        }
    }

    #[test]
    fn zones_emitted_here_are_judged_by_python_mrz_valid_exactly_when_untampered() {
        let mut input = String::new();
        let mut expect = Vec::new();
        for seed in 0..8u64 {
            for kind in [DocKind::Td3, DocKind::Td1Back] {
                for wrong in [None, Some(CheckDigit::BirthDate), Some(CheckDigit::Composite)] {
                    let mut spec = SpecimenSpec::new(kind, 200 + seed, TODAY);
                    spec.tamper.wrong_check_digits = wrong.into_iter().collect();
                    let t = idv_specimen::render(&spec, spec_assets()).unwrap().truth;
                    input.push_str(&t.mrz.join("|"));
                    input.push('\n');
                    expect.push(wrong.is_none());
                }
            }
        }
        let script = r#"
import sys
from mrz.checker.td3 import TD3CodeChecker
from mrz.checker.td1 import TD1CodeChecker
for line in sys.stdin.read().splitlines():
    lines = line.split("|")
    checker = TD3CodeChecker if len(lines) == 2 else TD1CodeChecker
    print("Y" if bool(checker("\n".join(lines))) else "N")
"#;
        let out = python(script, &input);
        let got: Vec<bool> = out.lines().map(|l| l == "Y").collect();
        assert_eq!(got, expect);
    }
}

mod units {
    use super::*;
    use idv_doc::fields::parse_printed_date;

    #[test]
    fn printed_dates_in_their_formats() {
        assert_eq!(parse_printed_date("12 AUG 1974", true, 2026), Some((1974, 8, 12)));
        assert_eq!(parse_printed_date("12 AUG/AOUT 74", true, 2026), Some((1974, 8, 12)));
        assert_eq!(parse_printed_date("12.08.1974", true, 2026), Some((1974, 8, 12)));
        assert_eq!(parse_printed_date("1974-08-12", true, 2026), Some((1974, 8, 12)));
        // A space lost by the recogniser.
        assert_eq!(parse_printed_date("12AUG 1974", true, 2026), Some((1974, 8, 12)));
        assert_eq!(parse_printed_date("12AUG1974", true, 2026), Some((1974, 8, 12)));
        assert_eq!(parse_printed_date("15 APR 32", false, 2026), Some((2032, 4, 15)));
        assert_eq!(parse_printed_date("31.02.2020", false, 2026), None);
        assert_eq!(parse_printed_date("PASSPORT", false, 2026), None);
    }

    #[test]
    fn doc_types() {
        use idv_doc::{DocClass, parse_doc_type};
        assert_eq!(parse_doc_type("01000000").unwrap().class, DocClass::Passport);
        let g = parse_doc_type("GLB03002").unwrap();
        assert_eq!((g.class, g.country), (DocClass::Passport, None));
        let c = parse_doc_type("CHN03001").unwrap();
        assert_eq!(c.country.as_deref(), Some("CHN"));
        assert_eq!(parse_doc_type("GLB01001").unwrap().class, DocClass::IdCard);
        for bad in ["", "00000006", "CHN02001", "XYZ", "glb0300"] {
            assert!(matches!(parse_doc_type(bad), Err(DocError::UnsupportedDocType(_))), "{bad}");
        }
    }
}

mod pipeline {
    use super::*;

    fn passport() -> DocRequest {
        DocRequest::new("GLB03002", today()).unwrap()
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
            let info = &r.ocr_id_info;
            let id = &sp.truth.identity;
            assert_eq!(info.get("passportNo"), Some(&id.document_number), "{d}");
            assert_eq!(info.get("birthDate"), Some(&id.birth_date.to_string()), "{d}");
            assert_eq!(info.get("expiryDate"), Some(&id.expiry_date.to_string()), "{d}");
            assert_eq!(info.get("countryCode"), Some(&id.issuing_country), "{d}");
            assert_eq!(info.get("sex"), Some(&id.sex.to_string()), "{d}");
            let ext = r.ext_id_info();
            assert_eq!(ext["ocrIdPassed"], "Y");
            assert_eq!(r.sub_code(), "200");
            assert_eq!(ext["ocrIdInfo"]["surname"], id.surname.as_str());
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
        let req = DocRequest::new("GLB01001", today()).unwrap();
        let sp = specimen(DocKind::Td1Front, 11, "perspective");
        let r = engine().read_image(&sp.image, &req).unwrap();
        assert_reads_back(&sp, &r, "front");
        assert!(r.portrait.as_ref().is_some_and(|p| p.face_refined), "front portrait");
        assert_eq!(r.ocr_id_info.get("idNumber"), Some(&sp.truth.identity.document_number));

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
}

mod defects {
    use super::*;

    fn read(spec: SpecimenSpec, doc_type: &str) -> idv_doc::DocReading {
        let sp = idv_specimen::render(&spec, spec_assets()).unwrap();
        engine().read_image(&sp.image, &DocRequest::new(doc_type, today()).unwrap()).unwrap()
    }

    fn failed(r: &idv_doc::DocReading) -> Vec<String> {
        r.failed_checks().iter().map(|c| c.name.clone()).collect()
    }

    #[test]
    fn wrong_check_digits_are_caught_and_named() {
        let mut spec = SpecimenSpec::new(DocKind::Td3, 21, TODAY);
        spec.distortion = Distortion::preset("jpeg").unwrap();
        spec.tamper.wrong_check_digits = vec![CheckDigit::BirthDate];
        let r = read(spec, "GLB03002");
        assert!(!r.passed());
        assert_eq!(r.sub_code(), "201");
        assert_eq!(failed(&r), vec!["mrz_check_birth_date", "mrz_check_composite"]);
        let c = r.checks.iter().find(|c| c.name == "mrz_check_birth_date").unwrap();
        assert!(c.reason.contains("birth_date check digit"), "{}", c.reason);
    }

    #[test]
    fn printed_fields_disagreeing_with_the_mrz_are_named_with_both_values() {
        let mut spec = SpecimenSpec::new(DocKind::Td3, 22, TODAY);
        spec.tamper.printed_mismatch = vec![PrintedField::Surname, PrintedField::BirthDate];
        let truth_surname = spec.identity.surname.clone();
        let r = read(spec, "GLB03002");
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
        let r = read(spec, "GLB03002");
        assert_eq!(failed(&r), vec!["not_expired"]);
        assert!(r.checks.iter().any(|c| c.name == "not_expired" && c.reason.starts_with("document expired on")));
        assert_eq!(r.sub_code(), "202");

        let mut spec = SpecimenSpec::new(DocKind::Td3, 24, TODAY);
        spec.identity = Identity::generate(24, TODAY, Validity::NotYetValid);
        let r = read(spec, "GLB03002");
        assert_eq!(failed(&r), vec!["already_valid"]);
    }

    #[test]
    fn unknown_country_and_wrong_doc_type_are_named() {
        let mut spec = SpecimenSpec::new(DocKind::Td3, 25, TODAY);
        spec.identity.issuing_country = "ZZX".into();
        spec.identity.nationality = "FRA".into();
        let r = read(spec.clone(), "GLB03002");
        assert_eq!(failed(&r), vec!["issuing_country_known"]);

        spec.identity.issuing_country = "ITA".into();
        let r = read(spec, "FRA03001");
        assert_eq!(failed(&r), vec!["issuing_country_matches_doc_type"]);
    }

    #[test]
    fn unusable_pictures_get_a_retake_or_a_photo_error_never_a_panic() {
        let blank = image::RgbImage::from_pixel(1280, 960, image::Rgb([128, 120, 110]));
        let req = DocRequest::new("GLB03002", today()).unwrap();
        match engine().read_image(&blank, &req) {
            Err(DocError::Retake(reason)) => assert!(reason.contains("machine-readable zone"), "{reason}"),
            other => panic!("expected a retake, got {:?}", other.map(|r| r.checks)),
        }
        let err = engine().read_bytes(b"not an image at all", &req).expect_err("must fail");
        assert_eq!(err.api_code(), "UnqualifiedPhoto", "{err}");
        let tiny = image::RgbImage::from_pixel(120, 90, image::Rgb([255, 255, 255]));
        assert!(matches!(engine().read_image(&tiny, &req), Err(DocError::Retake(_))));
    }
}

mod evaluation {
    use super::*;

    #[test]
    fn evaluation_counts_reads_and_reports_no_wrong_but_valid_mrz() {
        let report = idv_doc::eval::evaluate_with(engine(), spec_assets(), 1, 77, TODAY, &["clean", "phone"]).unwrap();
        let text = report.to_string();
        assert!(text.contains("MRZ exact on distorted conditions"), "{text}");
        assert_eq!(report.wrong_but_valid(), 0, "{text}");
        assert!(report.field_accuracy() > 90.0, "{text}");
    }
}
