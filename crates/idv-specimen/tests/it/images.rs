//! The rendered images: determinism, distortion presets, the page geometry, missing assets.

use idv_specimen::{Assets, Distortion, DocKind, SpecimenSpec, render};

use crate::common::{TODAY, assets, repo_root};

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
            assert!(c[0] >= -1.0 && c[1] >= -1.0 && c[0] <= w as f32 + 1.0 && c[1] <= h as f32 + 1.0, "{name}: {c:?}");
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
