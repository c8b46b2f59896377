use std::path::PathBuf;

use idv_vision::Assets;

/// The repository root, where `scripts/fetch-assets.sh` puts models and test photos.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn assets() -> Assets {
    Assets::new(root())
}

/// Path of a fetched asset, verified against its pinned sha256; fails the test (never skips it) when the
/// asset is missing.
pub fn require(dest: &str) -> PathBuf {
    match assets().verify(dest) {
        Ok(a) => a.path,
        Err(e) => {
            panic!("test asset unavailable: {e} (scripts/fetch-assets.sh, run from the repository root, fetches them)")
        }
    }
}

pub fn read(dest: &str) -> Vec<u8> {
    std::fs::read(require(dest)).expect("read verified asset")
}

/// A JPEG APP1 segment holding only an EXIF orientation tag (big-endian TIFF, one IFD entry).
pub fn exif_orientation_segment(orientation: u16) -> Vec<u8> {
    let mut tiff = vec![b'M', b'M', 0, 42, 0, 0, 0, 8]; // header, IFD at offset 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padding
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    seg.extend(payload);
    seg
}

/// Inserts an EXIF orientation right after the JPEG's SOI marker.
pub fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "not a JPEG");
    let mut out = jpeg[..2].to_vec();
    out.extend(exif_orientation_segment(orientation));
    out.extend_from_slice(&jpeg[2..]);
    out
}
