//! Specimen renderer: MRZ emitted correctly, defects applied as asked, determinism, distortions.

use std::path::PathBuf;
use std::sync::OnceLock;

use idv_specimen::{
    Assets, CheckDigit, Distortion, DocKind, Identity, PrintedField, SpecimenSpec, Tamper, Validity, Ymd, render,
};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn assets() -> &'static Assets {
    static A: OnceLock<Assets> = OnceLock::new();
    A.get_or_init(|| {
        Assets::load(&repo_root())
            .unwrap_or_else(|e| panic!("specimen assets missing ({e}); run scripts/fetch-assets.sh"))
    })
}

const TODAY: Ymd = Ymd::new(2026, 5, 1);

mod mrz_emission {
    use super::*;

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
}

mod printed {
    use super::*;

    #[test]
    fn mismatched_fields_differ_and_others_match_the_identity() {
        let mut spec = SpecimenSpec::new(DocKind::Td3, 11, TODAY);
        spec.tamper.printed_mismatch = vec![PrintedField::Surname, PrintedField::BirthDate];
        let t = render(&spec, assets()).unwrap().truth;
        assert_ne!(t.printed[&PrintedField::Surname], t.identity.surname);
        assert_ne!(
            t.printed[&PrintedField::BirthDate],
            idv_specimen::printed_date(DocKind::Td3, t.identity.birth_date)
        );
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
}

mod images {
    use super::*;

    #[test]
    fn rendering_is_deterministic_for_a_seed_and_differs_across_seeds() {
        let mut spec = SpecimenSpec::new(DocKind::Td3, 21, TODAY);
        spec.distortion = Distortion::preset("phone").unwrap();
        let a = render(&spec, assets()).unwrap();
        let b = render(&spec, assets()).unwrap();
        assert_eq!(a.image.as_raw(), b.image.as_raw());
        assert_eq!(a.truth, b.truth);
        spec.seed = 22;
        let c = render(&spec, assets()).unwrap();
        assert_ne!(a.image.as_raw(), c.image.as_raw());
    }

    #[test]
    fn every_preset_renders_and_keeps_the_page_inside_the_photo() {
        for name in Distortion::PRESETS {
            let mut spec = SpecimenSpec::new(DocKind::Td3, 3, TODAY);
            spec.distortion = Distortion::preset(name).unwrap();
            let sp = render(&spec, assets()).unwrap();
            let [w, h] = sp.truth.image_size;
            assert_eq!((w, h), sp.image.dimensions(), "{name}");
            for c in sp.truth.corners {
                assert!(
                    c[0] >= -1.0 && c[1] >= -1.0 && c[0] <= w as f32 + 1.0 && c[1] <= h as f32 + 1.0,
                    "{name}: {c:?}"
                );
            }
            assert_eq!(sp.jpeg.is_some(), spec.distortion.jpeg_quality.is_some(), "{name}");
        }
    }

    #[test]
    fn clean_page_has_icao_size_and_dark_mrz_ink_at_the_ruled_place() {
        let spec = SpecimenSpec::new(DocKind::Td3, 4, TODAY);
        let sp = render(&spec, assets()).unwrap();
        assert_eq!(sp.image.dimensions(), (1500, 1056));
        // Row through MRZ line 2 (baseline 83 mm, cap 2.42 mm): dark pixels between 6 mm and 117.8 mm only.
        let y = ((83.0 - 1.2) * 12.0) as u32;
        let dark: Vec<u32> = (0..1500).filter(|&x| sp.image.get_pixel(x, y).0[0] < 100).collect();
        assert!(!dark.is_empty());
        assert!(*dark.first().unwrap() as f32 >= 6.0 * 12.0 - 2.0, "{:?}", dark.first());
        assert!(*dark.last().unwrap() as f32 <= (6.0 + 44.0 * 2.54) * 12.0 + 2.0, "{:?}", dark.last());
    }

    #[test]
    fn missing_assets_name_the_fetch_script() {
        let err = Assets::load(&repo_root().join("no-such-dir")).err().expect("must fail");
        assert!(err.to_string().contains("scripts/fetch-assets.sh"), "{err}");
    }
}
