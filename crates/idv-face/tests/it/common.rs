use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;

use idv_face::{DecodedImage, FaceAnalysis, FaceEngine, FaceEngineConfig, MultiFace};
use idv_vision::Assets;

/// The repository root, where `scripts/fetch-assets.sh` puts models and test photos.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn assets() -> Assets {
    Assets::new(root())
}

fn fail_missing(e: impl std::fmt::Display) -> ! {
    panic!("test assets unavailable: {e} (scripts/fetch-assets.sh, run from the repository root, fetches them)")
}

/// One engine for the whole test binary (ONNX Runtime allows one environment per process anyway).
pub fn engine() -> &'static FaceEngine {
    static ENGINE: OnceLock<FaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| FaceEngine::load(&assets(), FaceEngineConfig::default()).unwrap_or_else(|e| fail_missing(e)))
}

/// Raw bytes of a verified test photo, e.g. `photo_bytes("obama.jpg")`.
pub fn photo_bytes(name: &str) -> Vec<u8> {
    let dest = format!("testdata/faces/{name}");
    let asset = assets().verify(&dest).unwrap_or_else(|e| fail_missing(e));
    std::fs::read(asset.path).expect("read verified photo")
}

pub fn photo(name: &str) -> DecodedImage {
    engine().decode(&photo_bytes(name)).expect("test photo decodes")
}

pub fn analyze(name: &str) -> FaceAnalysis {
    engine().analyze(&photo(name), MultiFace::Largest).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn to_rgb_image(img: &DecodedImage) -> image::RgbImage {
    image::RgbImage::from_raw(img.width(), img.height(), img.rgb().to_vec()).unwrap()
}

pub fn from_rgb_image(img: image::RgbImage) -> DecodedImage {
    let (w, h) = img.dimensions();
    DecodedImage::from_rgb(w, h, img.into_raw()).unwrap()
}

pub fn encode_jpeg(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg).unwrap();
    out
}

/// Inserts an APP1 segment holding only an EXIF orientation tag right after the JPEG's SOI marker.
pub fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = vec![b'M', b'M', 0, 42, 0, 0, 0, 8];
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend(payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}
