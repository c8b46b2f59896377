use std::io::Cursor;

use idv_vision::{DecodeLimits, SourceFormat, VisionError, decode, probe};
use proptest::prelude::*;

use crate::common::{read, with_exif_orientation};

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

fn encode(img: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// A 64x32 picture: left half red, right half blue.
fn two_tone() -> image::RgbImage {
    image::RgbImage::from_fn(64, 32, |x, _| if x < 32 { image::Rgb([255, 0, 0]) } else { image::Rgb([0, 0, 255]) })
}

#[test]
fn decodes_real_jpeg_and_png_photos() {
    let jpeg = decode(&read("testdata/faces/obama.jpg"), &limits()).unwrap();
    assert_eq!((jpeg.width(), jpeg.height()), (910, 1137));
    assert_eq!(jpeg.format(), Some(SourceFormat::Jpeg));
    assert_eq!(jpeg.rgb().len(), 910 * 1137 * 3);

    let png = decode(&read("testdata/faces/astronaut.png"), &limits()).unwrap();
    assert_eq!((png.width(), png.height()), (512, 512));
    assert_eq!(png.format(), Some(SourceFormat::Png));
}

#[test]
fn rgba_png_becomes_rgb_with_the_same_content_as_its_jpeg() {
    let png = decode(&read("testdata/faces/formats/obama2-rgba.png"), &limits()).unwrap();
    let jpeg = decode(&read("testdata/faces/obama2.jpg"), &limits()).unwrap();
    assert_eq!((png.width(), png.height()), (jpeg.width(), jpeg.height()));
    let mean_abs_diff = png
        .rgb()
        .iter()
        .zip(jpeg.rgb())
        .map(|(a, b)| (i32::from(*a) - i32::from(*b)).unsigned_abs() as f64)
        .sum::<f64>()
        / png.rgb().len() as f64;
    assert!(mean_abs_diff < 4.0, "mean |png - jpeg| = {mean_abs_diff}");
}

#[test]
fn webp_is_accepted() {
    let bytes = encode(&two_tone(), image::ImageFormat::WebP);
    let img = decode(&bytes, &limits()).unwrap();
    assert_eq!(img.format(), Some(SourceFormat::Webp));
    assert_eq!((img.width(), img.height()), (64, 32));
    assert_eq!(&img.rgb()[..3], &[255, 0, 0]);
}

/// A valid PNG signature and IHDR chunk claiming `w x h`, followed by a tiny IDAT and IEND.
fn png_header_claiming(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn png_decompression_bomb_is_rejected_from_its_header() {
    let bomb = png_header_claiming(100_000, 100_000);
    assert!(bomb.len() < 100, "the bomb is a tiny file");
    match decode(&bomb, &limits()) {
        Err(e @ VisionError::TooManyPixels { width: 100_000, height: 100_000, .. }) => {
            assert!(e.is_too_large() && e.is_bad_input());
        }
        other => panic!("expected TooManyPixels, got {other:?}"),
    }
    assert!(matches!(probe(&bomb, &limits()), Err(VisionError::TooManyPixels { .. })));
}

#[test]
fn jpeg_claiming_a_huge_canvas_is_rejected_from_its_header() {
    // Patch the frame header (SOF0) of a real JPEG to claim 65500 x 65500 pixels.
    let mut jpeg = encode(&two_tone(), image::ImageFormat::Jpeg);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline JPEG");
    jpeg[sof + 5..sof + 7].copy_from_slice(&65500u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&65500u16.to_be_bytes());
    assert!(matches!(decode(&jpeg, &limits()), Err(VisionError::TooManyPixels { width: 65500, height: 65500, .. })));
}

#[test]
fn truncated_jpeg_is_a_clear_error() {
    let full = read("testdata/faces/obama.jpg");
    for keep in [full.len() / 2, full.len() - 2, 600] {
        match decode(&full[..keep], &limits()) {
            Err(VisionError::Truncated) => {}
            other => panic!("keeping {keep} bytes: expected Truncated, got {other:?}"),
        }
    }
}

#[test]
fn truncated_png_is_a_clear_error() {
    let full = read("testdata/faces/astronaut.png");
    let err = decode(&full[..full.len() / 2], &limits()).unwrap_err();
    assert!(matches!(err, VisionError::Truncated), "got {err:?}");
}

#[test]
fn non_image_data_and_size_limits() {
    assert!(matches!(decode(b"", &limits()), Err(VisionError::EmptyImage)));
    assert!(matches!(decode(b"%PDF-1.7 definitely not a picture", &limits()), Err(VisionError::NotAnImage)));
    let photo = read("testdata/faces/obama.jpg");
    let small_budget = DecodeLimits { max_bytes: 1000, ..limits() };
    assert!(matches!(decode(&photo, &small_budget), Err(VisionError::TooManyBytes { limit: 1000, .. })));
    let few_pixels = DecodeLimits { max_pixels: 1000 * 1000, ..limits() };
    assert!(matches!(decode(&photo, &few_pixels), Err(VisionError::TooManyPixels { width: 910, height: 1137, .. })));
    let tiny = encode(&image::RgbImage::new(16, 16), image::ImageFormat::Png);
    assert!(matches!(decode(&tiny, &limits()), Err(VisionError::TooSmall { width: 16, height: 16, min_side: 32 })));
}

#[test]
fn exif_orientation_is_applied() {
    let jpeg = encode(&two_tone(), image::ImageFormat::Jpeg);
    let plain = decode(&jpeg, &limits()).unwrap();
    assert_eq!((plain.width(), plain.height(), plain.exif_orientation()), (64, 32, 1));

    // Orientation 6: the stored pixels must be turned 90 degrees clockwise to display upright, so the
    // red (left) half ends up on top.
    let rotated = decode(&with_exif_orientation(&jpeg, 6), &limits()).unwrap();
    assert_eq!((rotated.width(), rotated.height()), (32, 64));
    assert_eq!(rotated.exif_orientation(), 6);
    let px = |img: &idv_vision::DecodedImage, x: u32, y: u32| {
        let i = ((y * img.width() + x) * 3) as usize;
        [img.rgb()[i], img.rgb()[i + 1], img.rgb()[i + 2]]
    };
    let top = px(&rotated, 16, 8);
    let bottom = px(&rotated, 16, 56);
    assert!(top[0] > 200 && top[2] < 60, "top should be red, is {top:?}");
    assert!(bottom[2] > 200 && bottom[0] < 60, "bottom should be blue, is {bottom:?}");
}

#[test]
fn crop_and_png_round_trip() {
    let img = decode(&read("testdata/faces/grace_hopper.jpg"), &limits()).unwrap();
    let crop = img.crop(100, 50, 200, 300).unwrap();
    assert_eq!((crop.width(), crop.height()), (200, 300));
    let back = decode(&crop.to_png().unwrap(), &limits()).unwrap();
    assert_eq!(back.rgb(), crop.rgb());
    // A crop running past the edge is clamped, not an error.
    let edge = img.crop(500, 590, 100, 100).unwrap();
    assert_eq!((edge.width(), edge.height()), (12, 10));
}

#[test]
fn resize_and_fit_within() {
    let img = decode(&read("testdata/faces/obama.jpg"), &limits()).unwrap();
    let (fitted, scale) = idv_vision::fit_within(&img, 640).unwrap();
    assert_eq!(fitted.height(), 640);
    assert_eq!(fitted.width(), (910.0f32 * 640.0 / 1137.0).round() as u32);
    assert!((scale - 640.0 / 1137.0).abs() < 1e-6);
    let mean = |i: &idv_vision::DecodedImage| i.rgb().iter().map(|v| f64::from(*v)).sum::<f64>() / i.rgb().len() as f64;
    assert!((mean(&img) - mean(&fitted)).abs() < 1.0, "resizing keeps the average brightness");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = decode(&bytes, &limits());
    }

    #[test]
    fn random_bytes_behind_a_real_signature_never_panic(
        sig in prop_oneof![
            Just(b"\xFF\xD8\xFF\xE0".to_vec()),
            Just(b"\x89PNG\r\n\x1a\n".to_vec()),
            Just(b"RIFF\0\0\0\0WEBPVP8 ".to_vec()),
        ],
        tail in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = sig;
        bytes.extend(tail);
        let _ = decode(&bytes, &limits());
    }

    #[test]
    fn corrupted_real_pictures_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        png in any::<bool>(),
    ) {
        let mut bytes = if png {
            encode(&two_tone(), image::ImageFormat::Png)
        } else {
            encode(&two_tone(), image::ImageFormat::Jpeg)
        };
        for (i, v) in flips {
            let n = bytes.len();
            bytes[i.index(n)] = v;
        }
        let _ = decode(&bytes, &limits());
    }
}
