//! Synthetic identity documents with ground truth: a TD3 passport data page and a TD1 identity card (front and
//! back), printed fields in DejaVu Sans, the MRZ in OCR-B at the ICAO 2.54 mm pitch with check digits emitted by
//! the `mrz` crate, and optional defects (wrong check digits, printed fields that disagree with the MRZ, expired
//! or not-yet-valid dates) and photo-like distortions. Everything is deterministic for a given spec and seed.
//!
//! Fonts and portraits are files fetched by `scripts/fetch-assets.sh` (`testdata/fonts`, `testdata/faces`).

mod distort;
mod draw;
mod identity;
mod layout;
mod rng;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use image::imageops::FilterType;
use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

pub use distort::{Applied, Distortion};
pub use identity::{Identity, PORTRAITS_F, PORTRAITS_M, Validity, Ymd};
pub use layout::PrintedField;

use draw::{Face, Pen};
use layout::{CAPTION_CAP_MM, MRZ_CAP_MM, MRZ_PITCH_MM, VALUE_BASELINE_BELOW_CAPTION_MM, VALUE_CAP_MM};
use rng::Rng;

#[derive(Debug, thiserror::Error)]
pub enum SpecimenError {
    #[error("{what} not found at {path}: run scripts/fetch-assets.sh")]
    MissingAsset { what: &'static str, path: PathBuf },
    #[error("cannot use {path}: {reason}")]
    BadAsset { path: PathBuf, reason: String },
    #[error("invalid specimen: {0}")]
    Invalid(String),
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// Which page to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// Passport data page (TD3, 125 × 88 mm, two MRZ lines of 44).
    Td3,
    /// Identity card front (TD1, 85.6 × 54 mm): portrait and printed fields.
    Td1Front,
    /// Identity card back: address, issue data and the three-line MRZ of 30.
    Td1Back,
    /// Identity card in the TD2 size (105 × 74 mm): portrait, printed fields and a two-line MRZ of 36 on one side.
    Td2,
    /// Machine-readable visa, format A (120 × 80 mm sticker, two MRZ lines of 44, no composite digit).
    MrvA,
    /// Machine-readable visa, format B (105 × 74 mm sticker, two MRZ lines of 36, no composite digit).
    MrvB,
}

impl DocKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Td3 => "td3",
            DocKind::Td1Front => "td1_front",
            DocKind::Td1Back => "td1_back",
            DocKind::Td2 => "td2",
            DocKind::MrvA => "mrv_a",
            DocKind::MrvB => "mrv_b",
        }
    }
}

impl FromStr for DocKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.replace('-', "_").as_str() {
            "td3" | "passport" => Ok(DocKind::Td3),
            "td1_front" | "id_front" => Ok(DocKind::Td1Front),
            "td1_back" | "id_back" => Ok(DocKind::Td1Back),
            "td2" => Ok(DocKind::Td2),
            "mrv_a" | "visa_a" => Ok(DocKind::MrvA),
            "mrv_b" | "visa_b" => Ok(DocKind::MrvB),
            _ => Err(format!("unknown document kind {s:?} (td3, td1-front, td1-back, td2, mrv-a, mrv-b)")),
        }
    }
}

/// A check digit of the MRZ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckDigit {
    DocumentNumber,
    BirthDate,
    ExpiryDate,
    /// TD3 only.
    PersonalNumber,
    Composite,
}

impl FromStr for CheckDigit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.replace('-', "_").as_str() {
            "document_number" => Ok(CheckDigit::DocumentNumber),
            "birth_date" => Ok(CheckDigit::BirthDate),
            "expiry_date" => Ok(CheckDigit::ExpiryDate),
            "personal_number" => Ok(CheckDigit::PersonalNumber),
            "composite" => Ok(CheckDigit::Composite),
            _ => Err(format!("unknown check digit {s:?}")),
        }
    }
}

/// Deliberate defects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tamper {
    /// Check digits printed wrong (the true digit plus 1..9, mod 10).
    pub wrong_check_digits: Vec<CheckDigit>,
    /// Printed fields whose printed value differs from the value the MRZ encodes.
    pub printed_mismatch: Vec<PrintedField>,
}

/// Everything that determines one specimen image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecimenSpec {
    pub kind: DocKind,
    pub identity: Identity,
    pub tamper: Tamper,
    pub distortion: Distortion,
    /// Resolution of the flat page before distortion.
    pub px_per_mm: f32,
    /// Reference day for the ground truth's expired / not-yet-valid flags.
    pub today: Ymd,
    pub seed: u64,
}

impl SpecimenSpec {
    /// A clean page for a generated identity.
    pub fn new(kind: DocKind, seed: u64, today: Ymd) -> Self {
        SpecimenSpec {
            kind,
            identity: Identity::generate(seed, today, Validity::Valid),
            tamper: Tamper::default(),
            distortion: Distortion::default(),
            px_per_mm: 12.0,
            today,
            seed,
        }
    }
}

/// What the image shows, for checking a reader against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub kind: DocKind,
    pub seed: u64,
    pub today: Ymd,
    /// The identity as issued (the MRZ encodes these values).
    pub identity: Identity,
    /// Printed text per field exactly as it appears on this page (after `printed_mismatch`).
    pub printed: BTreeMap<PrintedField, String>,
    /// Printed MRZ lines (after `wrong_check_digits`); empty for a TD1 front.
    pub mrz: Vec<String>,
    /// The MRZ lines with correct check digits.
    pub mrz_issued: Vec<String>,
    pub wrong_check_digits: Vec<CheckDigit>,
    pub printed_mismatch: Vec<PrintedField>,
    pub expired: bool,
    pub not_yet_valid: bool,
    pub image_size: [u32; 2],
    pub page_size_mm: [f32; 2],
    /// Page corners in image pixels: top-left, top-right, bottom-right, bottom-left.
    pub corners: [[f32; 2]; 4],
    /// Portrait rectangle on the page, mm: x, y, width, height.
    pub portrait_mm: Option<[f32; 4]>,
    pub distortion: Distortion,
    pub rotation_deg: f32,
}

/// A rendered specimen.
pub struct Specimen {
    pub image: RgbImage,
    /// The JPEG bytes when the distortion re-encoded the image (the image is their decoded form).
    pub jpeg: Option<Vec<u8>>,
    pub truth: GroundTruth,
}

impl Specimen {
    /// Encoded bytes and file extension: the JPEG as produced, or a lossless PNG.
    pub fn encoded(&self) -> Result<(Vec<u8>, &'static str), SpecimenError> {
        if let Some(j) = &self.jpeg {
            return Ok((j.clone(), "jpg"));
        }
        let mut buf = std::io::Cursor::new(Vec::new());
        self.image
            .write_to(&mut buf, image::ImageFormat::Png)
            .map_err(|e| SpecimenError::Invalid(format!("PNG encoding failed: {e}")))?;
        Ok((buf.into_inner(), "png"))
    }

    /// Write `<stem>.png|jpg` and `<stem>.json` (the ground truth) into `dir`; returns the image path.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<PathBuf, SpecimenError> {
        let (bytes, ext) = self.encoded()?;
        let werr = |path: &Path, e: &dyn fmt::Display| SpecimenError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| werr(dir, &e))?;
        let img = dir.join(format!("{stem}.{ext}"));
        std::fs::write(&img, bytes).map_err(|e| werr(&img, &e))?;
        let json = dir.join(format!("{stem}.json"));
        let text = serde_json::to_string_pretty(&self.truth).map_err(|e| werr(&json, &e))?;
        std::fs::write(&json, text).map_err(|e| werr(&json, &e))?;
        Ok(img)
    }
}

/// Fonts and portraits, loaded once and shared by many renders.
pub struct Assets {
    ocrb: Face,
    sans: Face,
    sans_bold: Face,
    faces_dir: PathBuf,
    portraits: std::sync::Mutex<BTreeMap<String, RgbImage>>,
}

impl Assets {
    /// Load from `testdata/` under `root` (the repository root).
    pub fn load(root: &Path) -> Result<Self, SpecimenError> {
        Self::load_from(&root.join("testdata/fonts"), &root.join("testdata/faces"))
    }

    pub fn load_from(fonts_dir: &Path, faces_dir: &Path) -> Result<Self, SpecimenError> {
        let font = |name: &str, what: &'static str| -> Result<Face, SpecimenError> {
            let path = fonts_dir.join(name);
            let bytes = std::fs::read(&path).map_err(|_| SpecimenError::MissingAsset { what, path: path.clone() })?;
            let f = ab_glyph::FontVec::try_from_vec(bytes)
                .map_err(|e| SpecimenError::BadAsset { path, reason: e.to_string() })?;
            Ok(Face::new(f))
        };
        if !faces_dir.is_dir() {
            return Err(SpecimenError::MissingAsset { what: "portrait folder", path: faces_dir.to_path_buf() });
        }
        Ok(Assets {
            ocrb: font("OCRB.otf", "OCR-B font (Debian fonts-ocr-b)")?,
            sans: font("DejaVuSans.ttf", "DejaVu Sans font (Debian fonts-dejavu-core)")?,
            sans_bold: font("DejaVuSans-Bold.ttf", "DejaVu Sans Bold font (Debian fonts-dejavu-core)")?,
            faces_dir: faces_dir.to_path_buf(),
            portraits: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    fn portrait(&self, name: &str) -> Result<RgbImage, SpecimenError> {
        if let Some(p) = self.portraits.lock().map_err(|_| poisoned())?.get(name) {
            return Ok(p.clone());
        }
        let path = self.faces_dir.join(name);
        if !path.is_file() {
            return Err(SpecimenError::MissingAsset { what: "portrait", path });
        }
        let img = image::open(&path)
            .map_err(|e| SpecimenError::BadAsset { path: path.clone(), reason: e.to_string() })?
            .to_rgb8();
        let img = head_and_shoulders(name, img);
        self.portraits.lock().map_err(|_| poisoned())?.insert(name.to_string(), img.clone());
        Ok(img)
    }
}

fn poisoned() -> SpecimenError {
    SpecimenError::Invalid("portrait cache poisoned by a panic in another thread".into())
}

/// Crop a photo to a 7:9 head-and-shoulders frame. The known public photos have hand-measured boxes; any other
/// photo gets the top-centre of the frame, where portraits usually put the head.
fn head_and_shoulders(name: &str, img: RgbImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let known: Option<[u32; 4]> = match name {
        "astronaut.png" => Some([120, 0, 210, 270]),
        _ => None,
    };
    let [x, y, cw, ch] = known.filter(|b| b[0] + b[2] <= w && b[1] + b[3] <= h).unwrap_or_else(|| {
        let cw = (w as f32 * 0.62).min(h as f32 * 7.0 / 9.0) as u32;
        let ch = (cw as f32 * 9.0 / 7.0) as u32;
        [(w - cw) / 2, ((h - ch.min(h)) as f32 * 0.15) as u32, cw, ch.min(h)]
    });
    image::imageops::crop_imm(&img, x, y, cw, ch).to_image()
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/// A date as the page prints it: `12 AUG 1974` on the passport, `12.08.1974` on the ID card.
pub fn printed_date(kind: DocKind, d: Ymd) -> String {
    match kind {
        DocKind::Td3 | DocKind::Td2 | DocKind::MrvA | DocKind::MrvB => {
            format!("{:02} {} {:04}", d.day, MONTHS[(d.month as usize).clamp(1, 12) - 1], d.year)
        }
        DocKind::Td1Front | DocKind::Td1Back => format!("{:02}.{:02}.{:04}", d.day, d.month, d.year),
    }
}

/// The identity's value for each field, as printed (before any deliberate mismatch).
fn printed_values(kind: DocKind, id: &Identity) -> BTreeMap<PrintedField, String> {
    use PrintedField as F;
    let mut m = BTreeMap::new();
    let code = match kind {
        DocKind::Td3 => "P",
        DocKind::MrvA | DocKind::MrvB => "V",
        DocKind::Td1Front | DocKind::Td1Back | DocKind::Td2 => "I",
    };
    m.insert(F::DocumentType, code.to_string());
    m.insert(F::IssuingCountry, id.issuing_country.clone());
    m.insert(F::DocumentNumber, id.document_number.clone());
    m.insert(F::Surname, id.surname.clone());
    m.insert(F::GivenNames, id.given_names.clone());
    m.insert(F::Nationality, id.nationality.clone());
    m.insert(F::BirthDate, printed_date(kind, id.birth_date));
    m.insert(F::Sex, id.sex.to_string());
    m.insert(F::PlaceOfBirth, id.place_of_birth.clone());
    m.insert(F::IssueDate, printed_date(kind, id.issue_date));
    m.insert(F::Authority, id.authority.clone());
    m.insert(F::ExpiryDate, printed_date(kind, id.expiry_date));
    if let Some(p) = &id.personal_number {
        m.insert(F::PersonalNumber, p.clone());
    }
    m.insert(F::Address, id.address.clone());
    m
}

/// A value that differs visibly but plausibly from `v` (one character or one year changed).
fn mismatch(kind: DocKind, field: PrintedField, id: &Identity, v: &str, r: &mut Rng) -> String {
    use PrintedField as F;
    match field {
        F::BirthDate => printed_date(kind, id.birth_date.add_years(1 + r.below(3) as i32)),
        F::ExpiryDate => printed_date(kind, id.expiry_date.add_years(1 + r.below(3) as i32)),
        F::IssueDate => printed_date(kind, id.issue_date.add_years(-1 - r.below(3) as i32)),
        F::Sex => if id.sex == 'F' { "M" } else { "F" }.to_string(),
        F::Nationality | F::IssuingCountry => {
            let alt = if v == "FRA" { "ITA" } else { "FRA" };
            alt.to_string()
        }
        _ => {
            let chars: Vec<char> = v.chars().collect();
            let positions: Vec<usize> =
                chars.iter().enumerate().filter(|(_, c)| c.is_ascii_alphanumeric()).map(|(i, _)| i).collect();
            if positions.is_empty() {
                return format!("{v}X");
            }
            let i = positions[r.below(positions.len())];
            let mut out = chars.clone();
            out[i] = if chars[i].is_ascii_digit() {
                (b'0' + ((chars[i] as u8 - b'0' + 1 + r.below(9) as u8) % 10)) as char
            } else {
                let c = chars[i] as u8 - b'A';
                (b'A' + (c + 1 + r.below(25) as u8) % 26) as char
            };
            out.into_iter().collect()
        }
    }
}

/// The MRZ lines as issued, emitted by the `mrz` crate.
fn issued_mrz(kind: DocKind, id: &Identity) -> Vec<String> {
    let sex = mrz::Sex::from_zone(id.sex);
    let zone = match kind {
        DocKind::Td3 => mrz::format_td3(&mrz::Td3Fields {
            document_code: "P".into(),
            issuing_country: id.issuing_country.clone(),
            document_number: id.document_number.clone(),
            surname: id.surname.clone(),
            given_names: id.given_names.clone(),
            nationality: id.nationality.clone(),
            date_of_birth: id.birth_date.to_mrz(),
            sex,
            date_of_expiry: id.expiry_date.to_mrz(),
            personal_number: id.personal_number.clone(),
        }),
        DocKind::Td1Front => return Vec::new(),
        DocKind::Td1Back => mrz::format_td1(&mrz::Td1Fields {
            document_code: "I".into(),
            issuing_country: id.issuing_country.clone(),
            document_number: id.document_number.clone(),
            optional_data_1: None,
            surname: id.surname.clone(),
            given_names: id.given_names.clone(),
            nationality: id.nationality.clone(),
            date_of_birth: id.birth_date.to_mrz(),
            sex,
            date_of_expiry: id.expiry_date.to_mrz(),
            optional_data_2: id.personal_number.clone(),
        }),
        DocKind::Td2 => mrz::format_td2(&mrz::Td2Fields {
            document_code: "I".into(),
            issuing_country: id.issuing_country.clone(),
            document_number: id.document_number.clone(),
            surname: id.surname.clone(),
            given_names: id.given_names.clone(),
            nationality: id.nationality.clone(),
            date_of_birth: id.birth_date.to_mrz(),
            sex,
            date_of_expiry: id.expiry_date.to_mrz(),
            optional_data: None,
        }),
        DocKind::MrvA => mrz::format_mrv_a(&mrz::MrvAFields {
            document_code: "V".into(),
            issuing_country: id.issuing_country.clone(),
            document_number: id.document_number.clone(),
            surname: id.surname.clone(),
            given_names: id.given_names.clone(),
            nationality: id.nationality.clone(),
            date_of_birth: id.birth_date.to_mrz(),
            sex,
            date_of_expiry: id.expiry_date.to_mrz(),
            optional_data: None,
        }),
        DocKind::MrvB => mrz::format_mrv_b(&mrz::MrvBFields {
            document_code: "V".into(),
            issuing_country: id.issuing_country.clone(),
            document_number: id.document_number.clone(),
            surname: id.surname.clone(),
            given_names: id.given_names.clone(),
            nationality: id.nationality.clone(),
            date_of_birth: id.birth_date.to_mrz(),
            sex,
            date_of_expiry: id.expiry_date.to_mrz(),
            optional_data: None,
        }),
    };
    zone.lines().map(str::to_string).collect()
}

/// (line, column) of each check digit.
fn check_position(kind: DocKind, c: CheckDigit) -> Option<(usize, usize)> {
    match (kind, c) {
        (DocKind::Td3, CheckDigit::DocumentNumber) => Some((1, 9)),
        (DocKind::Td3, CheckDigit::BirthDate) => Some((1, 19)),
        (DocKind::Td3, CheckDigit::ExpiryDate) => Some((1, 27)),
        (DocKind::Td3, CheckDigit::PersonalNumber) => Some((1, 42)),
        (DocKind::Td3, CheckDigit::Composite) => Some((1, 43)),
        (DocKind::Td1Back, CheckDigit::DocumentNumber) => Some((0, 14)),
        (DocKind::Td1Back, CheckDigit::BirthDate) => Some((1, 6)),
        (DocKind::Td1Back, CheckDigit::ExpiryDate) => Some((1, 14)),
        (DocKind::Td1Back, CheckDigit::Composite) => Some((1, 29)),
        (DocKind::Td2 | DocKind::MrvA | DocKind::MrvB, CheckDigit::DocumentNumber) => Some((1, 9)),
        (DocKind::Td2 | DocKind::MrvA | DocKind::MrvB, CheckDigit::BirthDate) => Some((1, 19)),
        (DocKind::Td2 | DocKind::MrvA | DocKind::MrvB, CheckDigit::ExpiryDate) => Some((1, 27)),
        (DocKind::Td2, CheckDigit::Composite) => Some((1, 35)),
        _ => None,
    }
}

/// Render one specimen.
pub fn render(spec: &SpecimenSpec, assets: &Assets) -> Result<Specimen, SpecimenError> {
    if !(2.0..=40.0).contains(&spec.px_per_mm) {
        return Err(SpecimenError::Invalid(format!("px_per_mm {} outside 2..40", spec.px_per_mm)));
    }
    let d = &spec.distortion;
    if !(0.05..=1.0).contains(&d.scale) || d.scene_size[0] < 64 || d.scene_size[1] < 64 {
        return Err(SpecimenError::Invalid("distortion scale or scene size out of range".into()));
    }
    let kind = spec.kind;
    let id = &spec.identity;
    let rng = Rng::new(spec.seed);
    let lay = layout::layout(kind);
    let s = spec.px_per_mm;
    let (w, h) = ((lay.size_mm.0 * s).round() as u32, (lay.size_mm.1 * s).round() as u32);
    let mut page = RgbImage::from_pixel(w, h, Rgb(lay.tint));
    guilloche(&mut page, lay.tint, lay.accent, &mut rng.fork(10));

    // Header.
    let country = id.issuing_country_name();
    for &(text, x, base, cap) in lay.header {
        let text = text.replace("{COUNTRY}", &country);
        let pen = Pen { cap_px: cap * s, color: lay.accent, pitch: None };
        assets.sans_bold.draw(&mut page, pen, x * s, base * s, &text);
    }

    // Portrait.
    if let Some([x, y, pw, ph]) = lay.portrait_mm {
        let p = assets.portrait(&id.portrait)?;
        let (tw, th) = ((pw * s).round() as u32, (ph * s).round() as u32);
        // Fit the 7:9 crop into the zone (cover), then centre-crop.
        let k = (tw as f32 / p.width() as f32).max(th as f32 / p.height() as f32);
        let rw = ((p.width() as f32 * k).ceil() as u32).max(tw);
        let rh = ((p.height() as f32 * k).ceil() as u32).max(th);
        let resized = image::imageops::resize(&p, rw, rh, FilterType::CatmullRom);
        let cropped = image::imageops::crop_imm(&resized, (rw - tw) / 2, (rh - th) / 2, tw, th).to_image();
        image::imageops::replace(&mut page, &cropped, (x * s).round() as i64, (y * s).round() as i64);
    }

    // Printed fields.
    let mut printed_all = printed_values(kind, id);
    let mut mism_rng = rng.fork(11);
    let mut printed = BTreeMap::new();
    for slot in lay.fields {
        let Some(v) = printed_all.get(&slot.field).cloned() else { continue };
        let v = if spec.tamper.printed_mismatch.contains(&slot.field) {
            mismatch(kind, slot.field, id, &v, &mut mism_rng)
        } else {
            v
        };
        let caption_color = [lay.accent[0] / 2 + 60, lay.accent[1] / 2 + 60, lay.accent[2] / 2 + 60];
        let pen = Pen { cap_px: CAPTION_CAP_MM * s, color: caption_color, pitch: None };
        assets.sans.draw(&mut page, pen, slot.x * s, (slot.y + CAPTION_CAP_MM) * s, slot.caption);
        // Long values shrink to stay on the page.
        let room = (lay.size_mm.0 - slot.x - 2.5) * s;
        let mut cap = VALUE_CAP_MM * s;
        let width = assets.sans.width(cap, &v);
        if width > room {
            cap *= room / width;
        }
        let base = (slot.y + CAPTION_CAP_MM + VALUE_BASELINE_BELOW_CAPTION_MM) * s;
        let pen = Pen { cap_px: cap, color: [20, 20, 24], pitch: None };
        assets.sans.draw(&mut page, pen, slot.x * s, base, &v);
        printed.insert(slot.field, v);
    }
    printed_all.clear();

    // MRZ.
    let mrz_issued = issued_mrz(kind, id);
    let mut mrz_lines = mrz_issued.clone();
    let mut wrong = Vec::new();
    let mut digit_rng = rng.fork(12);
    for &c in &spec.tamper.wrong_check_digits {
        let Some((line, col)) = check_position(kind, c) else {
            return Err(SpecimenError::Invalid(format!("{} has no {c:?} check digit", kind.as_str())));
        };
        let mut chars: Vec<char> = mrz_lines[line].chars().collect();
        let cur = chars[col].to_digit(10).unwrap_or(0);
        chars[col] = char::from_digit((cur + 1 + digit_rng.below(9) as u32) % 10, 10).unwrap_or('0');
        mrz_lines[line] = chars.into_iter().collect();
        wrong.push(c);
    }
    if let Some((x0, baselines)) = lay.mrz {
        // The MRZ sits on a clear band, as on real documents (no guilloche under OCR characters).
        let top = ((baselines[0] - MRZ_CAP_MM - 2.0) * s).max(0.0) as u32;
        for y in top..h {
            for x in 0..w {
                page.put_pixel(
                    x,
                    y,
                    Rgb([lay.tint[0].saturating_add(10), lay.tint[1].saturating_add(8), lay.tint[2].saturating_add(8)]),
                );
            }
        }
        for (line, &b) in mrz_lines.iter().zip(baselines) {
            let pen = Pen { cap_px: MRZ_CAP_MM * s, color: [15, 15, 15], pitch: Some(MRZ_PITCH_MM * s) };
            assets.ocrb.draw(&mut page, pen, x0 * s, b * s, line);
        }
    }

    let out = distort::apply(&page, d, &rng.fork(20));
    let truth = GroundTruth {
        kind,
        seed: spec.seed,
        today: spec.today,
        identity: id.clone(),
        printed,
        mrz: mrz_lines,
        mrz_issued,
        wrong_check_digits: wrong,
        printed_mismatch: spec.tamper.printed_mismatch.clone(),
        expired: id.expiry_date < spec.today,
        not_yet_valid: id.issue_date > spec.today,
        image_size: [out.image.width(), out.image.height()],
        page_size_mm: [lay.size_mm.0, lay.size_mm.1],
        corners: out.applied.corners,
        portrait_mm: lay.portrait_mm,
        distortion: d.clone(),
        rotation_deg: out.applied.rotation_deg,
    };
    Ok(Specimen { image: out.image, jpeg: out.jpeg, truth })
}

/// Fine interleaved sine lines in a colour between the tint and the accent, as on security backgrounds.
fn guilloche(img: &mut RgbImage, tint: [u8; 3], accent: [u8; 3], r: &mut Rng) {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let f1 = r.range(18.0, 26.0) / w;
    let f2 = r.range(3.0, 5.0) / h;
    let amp = r.range(6.0, 10.0);
    let ink: [f32; 3] = std::array::from_fn(|k| tint[k] as f32 * 0.8 + accent[k] as f32 * 0.2);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (fx, fy) = (x as f32, y as f32);
        let v = (std::f32::consts::TAU * (fx * f1 + amp * (std::f32::consts::TAU * fy * f2).sin() / 30.0)).sin()
            * (std::f32::consts::TAU * (fy * f1 * 0.7 + (std::f32::consts::TAU * fx * f2).sin() / 4.0)).cos();
        let line = (1.0 - (v.abs() / 0.08)).max(0.0);
        if line > 0.0 {
            for (c, &i) in p.0.iter_mut().zip(&ink) {
                *c = (*c as f32 * (1.0 - line * 0.6) + i * line * 0.6).round() as u8;
            }
        }
    }
}

/// Options of `idv specimen`.
#[derive(Clone, Debug)]
pub struct SpecimenCommand {
    pub out_dir: PathBuf,
    /// Repository root holding `testdata/` (fonts and portraits).
    pub assets_root: PathBuf,
    pub kinds: Vec<DocKind>,
    pub count: usize,
    pub seed: u64,
    /// Preset names (see [`Distortion::PRESETS`]).
    pub distortions: Vec<String>,
    pub validity: Validity,
    pub tamper: Tamper,
    /// Field overrides applied to every generated identity (e.g. `surname=DOE`, `birth_date=1980-01-31`).
    pub set: Vec<(String, String)>,
    /// Reference day; `None` means today (UTC).
    pub today: Option<Ymd>,
}

impl SpecimenCommand {
    /// One clean, valid, untampered document of `kind`: the base the options change.
    pub fn one(out_dir: PathBuf, assets_root: PathBuf, kind: DocKind, seed: u64) -> Self {
        SpecimenCommand {
            out_dir,
            assets_root,
            kinds: vec![kind],
            count: 1,
            seed,
            distortions: vec!["clean".into()],
            validity: Validity::Valid,
            tamper: Tamper::default(),
            set: Vec::new(),
            today: None,
        }
    }
}

/// Render `count` identities × kinds × distortions into `out_dir`; returns the image paths written.
pub fn run_command(cmd: &SpecimenCommand) -> Result<Vec<PathBuf>, SpecimenError> {
    let assets = Assets::load(&cmd.assets_root)?;
    let today = cmd.today.unwrap_or_else(Ymd::today_utc);
    let mut written = Vec::new();
    for i in 0..cmd.count {
        let seed = cmd.seed.wrapping_add(i as u64);
        let mut identity = Identity::generate(seed, today, cmd.validity);
        for (k, v) in &cmd.set {
            set_field(&mut identity, k, v)?;
        }
        for &kind in &cmd.kinds {
            for name in &cmd.distortions {
                let distortion = Distortion::preset(name).ok_or_else(|| {
                    SpecimenError::Invalid(format!("unknown distortion {name:?}; known: {:?}", Distortion::PRESETS))
                })?;
                let spec = SpecimenSpec {
                    kind,
                    identity: identity.clone(),
                    tamper: cmd.tamper.clone(),
                    distortion,
                    px_per_mm: 12.0,
                    today,
                    seed,
                };
                let sp = render(&spec, &assets)?;
                written.push(sp.write(&cmd.out_dir, &format!("{}-{seed}-{name}", kind.as_str()))?);
            }
        }
    }
    Ok(written)
}

/// Override one identity field by name (the names used in ground truth JSON).
pub fn set_field(id: &mut Identity, key: &str, value: &str) -> Result<(), SpecimenError> {
    let date = |v: &str| v.parse::<Ymd>().map_err(SpecimenError::Invalid);
    match key.replace('-', "_").as_str() {
        "surname" => id.surname = value.into(),
        "given_names" => id.given_names = value.into(),
        "document_number" => id.document_number = value.into(),
        "issuing_country" => id.issuing_country = value.into(),
        "nationality" => id.nationality = value.into(),
        "sex" => id.sex = value.chars().next().unwrap_or('<'),
        "birth_date" => id.birth_date = date(value)?,
        "issue_date" => id.issue_date = date(value)?,
        "expiry_date" => id.expiry_date = date(value)?,
        "place_of_birth" => id.place_of_birth = value.into(),
        "authority" => id.authority = value.into(),
        "personal_number" => id.personal_number = (!value.is_empty()).then(|| value.to_string()),
        "address" => id.address = value.into(),
        "portrait" => id.portrait = value.into(),
        other => return Err(SpecimenError::Invalid(format!("unknown identity field {other:?}"))),
    }
    Ok(())
}
