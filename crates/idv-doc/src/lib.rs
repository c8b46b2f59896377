//! Document engine, pure compute: locate and flatten the document, read its text with PP-OCR, decode and
//! check the MRZ, resolve the identity fields (MRZ-verified where its check digits hold, printed otherwise), crop
//! the portrait, and run consistency checks (check digits, MRZ vs printed fields, validity dates, country codes,
//! document type). It measures and reports; what a reading means for a verification is `idv-flow`'s to decide,
//! and how it is named on the wire is `idv-api`'s.
//!
//! ```no_run
//! # fn main() -> Result<(), idv_doc::DocError> {
//! let engine = idv_doc::DocEngine::load(&idv_vision::Assets::from_env())?;
//! let req = idv_doc::DocRequest::new(idv_doc::DocTypeSpec::passport("GLB03002"), mrz::Date::new(2026, 5, 1));
//! let reading = engine.read_bytes(&std::fs::read("passport.jpg").unwrap(), &req)?;
//! println!("{:?} {:?}", reading.fields, reading.failed_checks());
//! # Ok(()) }
//! ```

mod checks;
pub mod fields;
mod locate;
pub mod mrz_read;
mod ocr;

use std::collections::BTreeMap;
use std::time::Instant;

use idv_vision::{Assets, DecodeLimits, InferenceBackend, ModelOptions, OrtBackend, VisionError};
use image::RgbImage;
use serde::Serialize;

pub use checks::{Check, CheckKind};
pub use fields::Field;
pub use mrz_read::{MrzFormat, MrzReading};

use locate::{Located, PAGE_PX_PER_MM, TD1_MM, TD3_MM};
use ocr::{Recognized, TextBox, TextDetector, TextRecognizer};

pub const MRZ_PITCH_MM: f32 = 2.54;
pub const DET_MODEL: &str = "models/PP-OCRv6_det_small.onnx";
pub const REC_MODEL: &str = "models/PP-OCRv6_rec_small.onnx";
pub const FACE_MODEL: &str = "models/face_detection_yunet_2023mar.onnx";
/// Longest side of the detector's input for the printed-field region of a flattened page: enough for 1.4 mm
/// captions, and the detector's cost grows with the square of it.
pub const FIELD_DET_MAX_SIDE: u32 = 736;
/// Horizontal scale of MRZ strips before recognition (see `TextRecognizer::crop_squeezed`).
pub const MRZ_SQUEEZE: f32 = 0.6;

/// The one error type of the engine.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// The picture is unusable as data (not an image, truncated, too small); API `UnqualifiedPhoto`.
    #[error("unqualified photo: {0}")]
    UnqualifiedPhoto(String),
    /// Over the byte or pixel limit; API `ToolargeImage`.
    #[error("image too large: {0}")]
    TooLarge(String),
    /// A usable image in which the document could not be read; ask the user to take the picture again.
    #[error("retake: {0}")]
    Retake(String),
    /// Missing or wrong models, or a model that breaks its contract: an installation problem.
    #[error("document models: {0}")]
    Model(String),
}

impl From<VisionError> for DocError {
    fn from(e: VisionError) -> Self {
        if e.is_too_large() {
            DocError::TooLarge(e.to_string())
        } else if e.is_bad_input() {
            DocError::UnqualifiedPhoto(e.to_string())
        } else {
            DocError::Model(e.to_string())
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocClass {
    Passport,
    IdCard,
    Visa,
    /// Any ICAO machine-readable document: the layout is whatever the zone turns out to be.
    Any,
}

impl DocClass {
    pub fn as_str(self) -> &'static str {
        match self {
            DocClass::Passport => "passport",
            DocClass::IdCard => "id_card",
            DocClass::Visa => "visa",
            DocClass::Any => "any",
        }
    }
}

/// The document the caller expects (the API layer parses DocType codes; the engine gets their meaning).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DocTypeSpec {
    /// The code, for the record.
    pub code: String,
    pub class: DocClass,
    /// Issuing state the code names (`CHN03001` → CHN); `None` for global codes.
    pub country: Option<String>,
    /// The MRZ layouts the document may carry (one, except for [`DocClass::Any`]).
    pub formats: Vec<MrzFormat>,
}

impl DocTypeSpec {
    fn of(code: &str, class: DocClass, formats: &[MrzFormat]) -> Self {
        DocTypeSpec { code: code.to_owned(), class, country: None, formats: formats.to_vec() }
    }

    /// Any state's passport (ICAO TD3).
    pub fn passport(code: &str) -> Self {
        Self::of(code, DocClass::Passport, &[MrzFormat::Td3])
    }

    /// Any state's ID card with a TD1 MRZ (on its back).
    pub fn id_card(code: &str) -> Self {
        Self::of(code, DocClass::IdCard, &[MrzFormat::Td1])
    }

    /// Any state's ID-2 card with a TD2 MRZ (on its data side).
    pub fn td2_card(code: &str) -> Self {
        Self::of(code, DocClass::IdCard, &[MrzFormat::Td2])
    }

    /// A machine-readable visa of format A or B.
    pub fn visa(code: &str, format: MrzFormat) -> Self {
        Self::of(code, DocClass::Visa, &[format])
    }

    /// Any ICAO machine-readable document, read on the side that carries its zone.
    pub fn any(code: &str) -> Self {
        Self::of(code, DocClass::Any, &MrzFormat::ALL)
    }

    /// The side that carries the MRZ: a TD1 card's back; every other layout's data side.
    pub fn mrz_side(&self) -> CardSide {
        if self.class == DocClass::IdCard && self.formats == [MrzFormat::Td1] {
            CardSide::Back
        } else {
            CardSide::Front
        }
    }
}

/// The page of one layout: size, how deep its zone reaches from the bottom edge, where the zone's first cell
/// and lowest baseline sit, and where the portrait is looked for (all mm).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PageShape {
    pub mm: (f32, f32),
    pub band_mm: f32,
    pub mrz_left_mm: f32,
    pub mrz_bottom_mm: f32,
    pub portrait_zone_mm: [f32; 4],
}

/// ICAO 9303 sizes: TD3 125 × 88, TD1 85.6 × 54, TD2 and MRV-B 105 × 74, MRV-A 120 × 80 mm.
pub fn page_shape(format: MrzFormat) -> PageShape {
    match format {
        MrzFormat::Td3 => PageShape {
            mm: TD3_MM,
            band_mm: 25.0,
            mrz_left_mm: 6.0,
            mrz_bottom_mm: 5.0,
            portrait_zone_mm: [2.0, 8.0, 42.0, 58.0],
        },
        MrzFormat::Td1 => PageShape {
            mm: TD1_MM,
            band_mm: 20.0,
            mrz_left_mm: 4.7,
            mrz_bottom_mm: 3.8,
            portrait_zone_mm: [1.5, 7.0, 29.0, 38.0],
        },
        MrzFormat::Td2 | MrzFormat::MrvB => PageShape {
            mm: (105.0, 74.0),
            band_mm: 22.0,
            mrz_left_mm: 6.0,
            mrz_bottom_mm: 4.8,
            portrait_zone_mm: [1.5, 7.0, 33.0, 42.0],
        },
        MrzFormat::MrvA => PageShape {
            mm: (120.0, 80.0),
            band_mm: 23.0,
            mrz_left_mm: 4.0,
            mrz_bottom_mm: 4.0,
            portrait_zone_mm: [1.5, 8.0, 36.0, 45.0],
        },
    }
}

/// Which side of a card the picture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardSide {
    /// Portrait side (API `CardSide=OCR_ID_FACE`); a passport's data page.
    Front,
    /// The other side (`OCR_ID_BACK`): a TD1 card's MRZ side.
    Back,
}

#[derive(Clone, Debug)]
pub struct DocRequest {
    pub doc_type: DocTypeSpec,
    pub side: CardSide,
    /// Reference day for the validity checks (the engine reads no clock).
    pub today: mrz::Date,
    /// Read only the MRZ (no printed fields, no portrait): the fast path when the zone is all a caller needs.
    pub mrz_only: bool,
}

impl DocRequest {
    pub fn new(doc_type: DocTypeSpec, today: mrz::Date) -> Self {
        DocRequest { doc_type, side: CardSide::Front, today, mrz_only: false }
    }

    pub fn with_side(mut self, side: CardSide) -> Self {
        self.side = side;
        self
    }

    fn mrz_expected(&self) -> bool {
        self.side == self.doc_type.mrz_side()
    }

    /// The page shapes the picture may show, one per distinct size among the expected layouts.
    fn shapes(&self) -> Vec<(MrzFormat, PageShape)> {
        let mut out: Vec<(MrzFormat, PageShape)> = Vec::new();
        for &f in &self.doc_type.formats {
            let s = page_shape(f);
            if !out.iter().any(|(_, o)| o.mm == s.mm) {
                out.push((f, s));
            }
        }
        out
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelRecord {
    pub path: String,
    pub sha256: String,
}

/// The portrait cut from the document.
#[derive(Clone, Debug)]
pub struct Portrait {
    pub image: RgbImage,
    /// Where it was cut on the flattened page, mm: x, y, width, height.
    pub box_mm: [f32; 4],
    /// True when the face detector placed the crop; false when it is the template zone.
    pub face_refined: bool,
}

/// The MRZ as read.
#[derive(Clone, Debug, Serialize)]
pub struct MrzSummary {
    pub format: MrzFormat,
    pub lines: Vec<String>,
    pub valid: bool,
    /// Cells changed by check-digit-guided repair: (line, column, from, to).
    pub repairs: Vec<(usize, usize, char, char)>,
    /// The least certain cell's probability, per line.
    pub line_confidence: Vec<f32>,
}

/// Everything read from one picture.
#[derive(Clone, Debug)]
pub struct DocReading {
    pub doc_type: DocTypeSpec,
    pub side: CardSide,
    /// How the page was found: `contour`, `frame` (the picture is the page), `mrz` or `text`.
    pub located_by: &'static str,
    /// Page corners in the photo (top-left, top-right, bottom-right, bottom-left).
    pub corners: [[f32; 2]; 4],
    /// Height of an MRZ character in the picture as given, pixels (from the page's size in it).
    pub mrz_char_px: f32,
    pub mrz: Option<MrzSummary>,
    mrz_data: Option<mrz::MrzData>,
    /// Printed fields as read, each of its field's type and read with confidence (see [`fields::Printed`]).
    pub printed: BTreeMap<Field, String>,
    /// Captions whose value did not read as its type or with enough confidence, with the reason: reported, never
    /// compared.
    pub unread: BTreeMap<Field, String>,
    /// The identity as read: MRZ-verified where the zone's check digits hold, printed otherwise (no empty values).
    pub fields: BTreeMap<Field, String>,
    pub checks: Vec<Check>,
    pub portrait: Option<Portrait>,
    pub models: Vec<ModelRecord>,
    pub runtime: String,
    pub elapsed_ms: f64,
}

impl DocReading {
    /// All checks passed (and at least one ran).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    pub fn failed_checks(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.passed).collect()
    }

    pub fn mrz_data(&self) -> Option<&mrz::MrzData> {
        self.mrz_data.as_ref()
    }
}

/// Pictures smaller than this on their shorter side are refused before any work: upscaled to [`UPSCALE_TO`], a
/// zone's characters would come from under a pixel of the original each.
pub const MIN_SIDE: u32 = 32;
/// Pictures smaller than this on their shorter side are upscaled to it before reading.
pub const UPSCALE_TO: u32 = 400;
/// Nominal height of an MRZ character (OCR-B size 1), mm.
pub const MRZ_CHAR_MM: f32 = 2.42;
/// Below this many pixels of the original picture per MRZ character height, upscaling has nothing left to
/// restore: a zone this small is refused even when its check digits hold (rendered passports at 4.8 px read
/// wrong-but-valid name lines 12 times in 12).
pub const MIN_MRZ_CHAR_PX: f32 = 4.5;
/// Under this character height a zone is "small": `<` and `C`, `O` and `D` come out near-tied, and the name line has
/// no check digit to catch a slip. A small zone is accepted only when its name line reads with
/// [`SMALL_ZONE_NAME_CONFIDENCE`]. Measured with `cargo run --release -p idv-eval --example doc_lowres`: on rendered
/// passports from 4.8 to 5.7 px every wrong name line had a least-certain cell under 0.82; the real 5.1 px passports
/// of `../shared/realdata/docs` read theirs at 0.86 and 0.94, exactly.
pub const SMALL_ZONE_PX: f32 = 6.0;
pub const SMALL_ZONE_NAME_CONFIDENCE: f32 = 0.85;
/// The loaded document engine: PP-OCR detector and recogniser, and optionally YuNet for the portrait.
pub struct DocEngine {
    det: TextDetector,
    rec: TextRecognizer,
    face: Option<idv_face::YuNet>,
    models: Vec<ModelRecord>,
    runtime: String,
    pub limits: DecodeLimits,
}

impl DocEngine {
    /// Verify the pinned models under the assets root and load them with ONNX Runtime.
    pub fn load(assets: &Assets) -> Result<Self, DocError> {
        let lib = assets.verify(idv_vision::ONNXRUNTIME_LIBRARY)?;
        let backend = OrtBackend::global(&lib.path)?;
        Self::with_backend(backend.as_ref(), assets)
    }

    pub fn with_backend(backend: &dyn InferenceBackend, assets: &Assets) -> Result<Self, DocError> {
        let found = assets.verify_all(&[DET_MODEL, REC_MODEL])?;
        let opts = ModelOptions { intra_threads: 1, ..ModelOptions::default() };
        let det = TextDetector::new(backend.load(&found[0].path, &opts)?)?;
        let rec_bytes = std::fs::read(&found[1].path)
            .map_err(|e| DocError::Model(format!("reading {}: {e}", found[1].path.display())))?;
        let character = idv_vision::onnx_metadata::metadata_props(&rec_bytes)?
            .into_iter()
            .find(|(k, _)| k == "character")
            .map(|(_, v)| v)
            .ok_or_else(|| DocError::Model(format!("{REC_MODEL} has no `character` metadata")))?;
        let rec = TextRecognizer::new(backend.load(&found[1].path, &opts)?, &character)?;
        let mut models: Vec<ModelRecord> =
            found.iter().map(|a| ModelRecord { path: a.entry.dest.clone(), sha256: a.entry.sha256.clone() }).collect();
        // The face detector only refines the portrait crop; without it the template zone is used.
        let face = match assets.verify(FACE_MODEL) {
            Ok(a) => {
                let yunet =
                    idv_face::YuNet::load(backend, &a.path, &opts).map_err(|e| DocError::Model(e.to_string()))?;
                models.push(ModelRecord { path: a.entry.dest.clone(), sha256: a.entry.sha256.clone() });
                Some(yunet)
            }
            Err(_) => None,
        };
        Ok(DocEngine { det, rec, face, models, runtime: backend.describe(), limits: DecodeLimits::default() })
    }

    /// Decode (with limits and EXIF orientation) and read.
    pub fn read_bytes(&self, bytes: &[u8], req: &DocRequest) -> Result<DocReading, DocError> {
        let decoded = idv_vision::decode(bytes, &self.limits)?;
        let img = RgbImage::from_raw(decoded.width(), decoded.height(), decoded.rgb().to_vec())
            .ok_or_else(|| DocError::UnqualifiedPhoto("decoded buffer has the wrong size".into()))?;
        self.read_image(&img, req)
    }

    /// Text boxes and their recognition on an image.
    fn ocr(&self, img: &RgbImage, boxes: &[TextBox]) -> Result<Vec<Recognized>, DocError> {
        let strips: Vec<RgbImage> = boxes.iter().map(|b| self.rec.crop(img, &b.quad)).collect();
        self.rec.recognize(&strips)
    }

    pub fn read_image(&self, img: &RgbImage, req: &DocRequest) -> Result<DocReading, DocError> {
        let started = Instant::now();
        let (w0, h0) = img.dimensions();
        if w0.min(h0) < MIN_SIDE {
            return Err(DocError::Retake(format!(
                "picture is {w0}×{h0} pixels; a document needs at least {MIN_SIDE} on the shorter side"
            )));
        }
        if req.doc_type.formats.is_empty() {
            return Err(DocError::Model("the document type names no MRZ layout".into()));
        }
        // A small picture (a thumbnail, a low-resolution scan) still holds a readable zone when its characters are
        // a few pixels tall: upscaled to UPSCALE_TO on its shorter side, the text detector and recogniser get the
        // sizes they were trained on. What decides is whether the zone reads, not the picture's size.
        let upscaled;
        let scale = if w0.min(h0) < UPSCALE_TO { UPSCALE_TO as f32 / w0.min(h0) as f32 } else { 1.0 };
        let img = if scale > 1.0 {
            let (uw, uh) = ((w0 as f32 * scale).round() as u32, (h0 as f32 * scale).round() as u32);
            upscaled = image::imageops::resize(img, uw, uh, image::imageops::FilterType::CatmullRom);
            &upscaled
        } else {
            img
        };
        let (w, h) = img.dimensions();
        let shapes = req.shapes();
        let attempt = |loc: &Located, shape: PageShape| -> Result<Option<(PageShape, PageRead)>, DocError> {
            let Some(page) = locate::rectify(img, &loc.corners, shape.mm) else { return Ok(None) };
            let read = self.read_page(page, req, &shape)?;
            // Pages of one aspect but another size (a TD2 card and a passport page are both 1.42:1): once the zone
            // names its layout, the page is flattened again at that layout's size, so millimetres mean millimetres.
            if let Some(m) = &read.mrz {
                let right = page_shape(m.format);
                if right.mm != shape.mm
                    && req.doc_type.formats.contains(&m.format)
                    && ((right.mm.0 / right.mm.1) / (shape.mm.0 / shape.mm.1) - 1.0).abs() < 0.05
                    && let Some(page) = locate::rectify(img, &loc.corners, right.mm)
                {
                    return Ok(Some((right, self.read_page(page, req, &right)?)));
                }
            }
            Ok(Some((shape, read)))
        };
        let usable = |p: &PageRead| p.mrz.is_some() || (!req.mrz_expected() && p.items.len() >= 4);

        let mut result: Option<(Located, PageShape, PageRead)> = None;
        let score = |p: &PageRead| p.mrz.as_ref().map(|m| (m.valid(), m.min_confidence));
        let doubtful = |r: &Option<(Located, PageShape, PageRead)>| match r {
            None => true,
            Some((_, _, p)) => req.mrz_expected() && !p.mrz.as_ref().is_some_and(|m| m.valid()),
        };
        let keep = |result: &mut Option<(Located, PageShape, PageRead)>, loc: Located, shape, p: PageRead| {
            if usable(&p) && result.as_ref().is_none_or(|(_, _, old)| score(&p) > score(old)) {
                *result = Some((loc, shape, p));
            }
        };
        // A scan or a cropped upload is the page itself: no outline to find, the frame's shape says so.
        for &(_, shape) in &shapes {
            if !doubtful(&result) {
                break;
            }
            let want = shape.mm.0 / shape.mm.1;
            if ((w as f32 / h as f32) / want - 1.0).abs() < 0.04 {
                let frame = Located {
                    corners: [[0.0, 0.0], [w as f32, 0.0], [w as f32, h as f32], [0.0, h as f32]],
                    method: "frame",
                };
                if let Some((shape, p)) = attempt(&frame, shape)? {
                    keep(&mut result, frame, shape, p);
                }
            }
        }
        if doubtful(&result)
            && let Some(loc) = locate::find_card(img)
        {
            let a = locate::aspect(&loc.corners);
            // A quadrilateral far from every expected shape is some other rectangle (a screen, a desk edge); of the
            // shapes it could be, the closest goes first.
            let mut near: Vec<(f32, PageShape)> = shapes
                .iter()
                .map(|&(_, s)| ((a / (s.mm.0 / s.mm.1) - 1.0).abs(), s))
                .filter(|(d, _)| *d < 0.22)
                .collect();
            near.sort_by(|x, y| x.0.total_cmp(&y.0));
            for (_, shape) in near {
                if !doubtful(&result) {
                    break;
                }
                if let Some((shape, p)) = attempt(&loc, shape)? {
                    keep(&mut result, loc.clone(), shape, p);
                }
            }
        }
        // Fallback: text geometry on the whole photo, when the outline gave nothing or an MRZ whose check
        // digits fail (a corner misplaced by shade can shave the zone's first cells off the flattened page). The
        // zone's lines fix the page's position, scale and rotation, whatever lies around it.
        if doubtful(&result) {
            let boxes = self.det.detect(img)?;
            let found = if req.mrz_expected() {
                self.mrz_geometry(img, &boxes, req)?
            } else {
                locate::from_text_boxes(&boxes, 0.04).map(|l| (l, shapes[0].1))
            };
            if let Some((loc, shape)) = found
                && let Some((shape, p)) = attempt(&loc, shape)?
            {
                keep(&mut result, loc, shape, p);
            }
        }
        let char_px_of = |loc: &Located, shape: &PageShape| {
            let c = loc.corners.map(|[x, y]| [x / scale, y / scale]);
            let len = |a: [f32; 2], b: [f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
            (len(c[0], c[1]) + len(c[3], c[2])) / 2.0 / shape.mm.0 * MRZ_CHAR_MM
        };
        let Some((loc, shape, page)) = result else {
            return Err(DocError::Retake(if req.mrz_expected() {
                // How tall the zone's characters can be at most here: the page filling the whole picture.
                let char_px = shapes
                    .iter()
                    .map(|(_, s)| (w0 as f32 / s.mm.0).max(h0 as f32 / s.mm.1) * MRZ_CHAR_MM)
                    .fold(0.0f32, f32::max);
                if char_px < MIN_MRZ_CHAR_PX {
                    format!(
                        "the machine-readable zone could not be read: in a {w0}×{h0} picture its characters are at most \
                         {char_px:.1} pixels tall and at least {MIN_MRZ_CHAR_PX} are needed; take the picture closer \
                         or at a higher resolution"
                    )
                } else {
                    "no document with a readable machine-readable zone was found; hold the page flat, fill the frame, avoid glare".into()
                }
            } else {
                "no document was found; place the card on a contrasting surface and fill the frame".into()
            }));
        };

        let mrz_char_px = char_px_of(&loc, &shape);
        if let Some(m) = &page.mrz {
            let name_line = if m.format == MrzFormat::Td1 { 2 } else { 0 };
            let name_conf = m.line_confidence.get(name_line).copied().unwrap_or(0.0);
            if mrz_char_px < MIN_MRZ_CHAR_PX || (mrz_char_px < SMALL_ZONE_PX && name_conf < SMALL_ZONE_NAME_CONFIDENCE)
            {
                return Err(DocError::Retake(format!(
                    "the machine-readable zone's characters are {mrz_char_px:.1} pixels tall in this picture, too \
                     small to read it reliably (its name line's least certain character: {name_conf:.2}); take the \
                     picture closer or at a higher resolution"
                )));
            }
        }
        let portrait = if req.mrz_only { None } else { self.portrait(&page.image, req, &shape) };
        let mrz = page.mrz.as_ref();
        let checks = checks::run(&checks::Inputs {
            requested: &req.doc_type,
            mrz,
            mrz_expected: req.mrz_expected(),
            printed: &page.printed,
            today: req.today,
        });
        let fields = identity_fields(req, mrz, &page.printed);
        Ok(DocReading {
            doc_type: req.doc_type.clone(),
            side: req.side,
            located_by: loc.method,
            // In the picture as given, not as upscaled.
            corners: loc.corners.map(|[x, y]| [x / scale, y / scale]),
            mrz_char_px,
            mrz: mrz.map(|m| MrzSummary {
                format: m.format,
                lines: m.lines.clone(),
                valid: m.valid(),
                repairs: m.repairs.clone(),
                line_confidence: m.line_confidence.clone(),
            }),
            mrz_data: mrz.map(|m| m.data.clone()),
            printed: page.printed.values,
            unread: page.printed.unread,
            fields,
            checks,
            portrait,
            models: self.models.clone(),
            runtime: self.runtime.clone(),
            elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Find MRZ lines among the photo's text boxes and derive the page from them: the decoded zone names its
    /// layout, and the layout's geometry places the page around the lines.
    fn mrz_geometry(
        &self,
        img: &RgbImage,
        boxes: &[TextBox],
        req: &DocRequest,
    ) -> Result<Option<(Located, PageShape)>, DocError> {
        let long: Vec<&TextBox> = boxes.iter().filter(|b| b.width() > 12.0 * b.height()).collect();
        if long.is_empty() {
            return Ok(None);
        }
        let owned: Vec<TextBox> = long.iter().map(|b| (*b).clone()).collect();
        let recs = self.ocr(img, &owned)?;
        let near_width = |n: usize| req.doc_type.formats.iter().any(|f| (n as i64 - f.width() as i64).abs() <= 4);
        let mut rows: Vec<(usize, &Recognized)> =
            recs.iter().enumerate().filter(|(_, r)| near_width(r.mrz.len())).collect();
        // Order along the page's vertical axis (perpendicular to the text direction).
        let Some(&(i0, _)) = rows.first() else { return Ok(None) };
        let q = owned[i0].quad;
        let (dx, dy) = (q[1][0] - q[0][0], q[1][1] - q[0][1]);
        let n = [-dy, dx];
        rows.sort_by(|a, b| {
            let ca = owned[a.0].center();
            let cb = owned[b.0].center();
            (ca[0] * n[0] + ca[1] * n[1]).total_cmp(&(cb[0] * n[0] + cb[1] * n[1]))
        });
        let lines: Vec<(f32, mrz_read::LineRead)> =
            rows.iter().map(|(i, r)| (owned[*i].center()[1], r.mrz.clone())).collect();
        let Some(reading) = mrz_read::find(&lines) else { return Ok(None) };
        let format = reading.format;
        let shape = page_shape(format);
        let nlines = format.lines();
        // The boxes of the decoded lines: the lowest run of `nlines` rows of the zone's width.
        let of_width: Vec<&TextBox> = rows
            .iter()
            .filter(|(_, r)| (r.mrz.len() as i64 - format.width() as i64).abs() <= 4)
            .map(|(i, _)| &owned[*i])
            .collect();
        let chosen = &of_width[of_width.len().saturating_sub(nlines)..];
        Ok(locate::from_mrz_boxes(chosen, format.width(), shape.mm, shape.mrz_left_mm, shape.mrz_bottom_mm)
            .map(|l| (l, shape)))
    }

    /// Read the MRZ in the bottom band of a flattened page: text rows found by a projection profile (no
    /// detector pass), recognised over the MRZ alphabet; the detector only runs on the band when the profile
    /// finds no zone. Returns the reading and the top of the zone in page pixels.
    fn read_mrz_band(&self, page: &RgbImage, shape: &PageShape) -> Result<Option<(MrzReading, f32)>, DocError> {
        let (pw, ph) = page.dimensions();
        let y0 = ph.saturating_sub((shape.band_mm * PAGE_PX_PER_MM) as u32);
        let band = image::imageops::crop_imm(page, 0, y0, pw, ph - y0).to_image();
        let mut boxes: Vec<TextBox> = locate::text_rows(&image::imageops::grayscale(&band), PAGE_PX_PER_MM)
            .into_iter()
            .map(|q| TextBox { quad: q.map(|p| [p[0], p[1] + y0 as f32]), score: 1.0 })
            .collect();
        let mut best: Option<(MrzReading, f32)> = None;
        for pass in 0..2 {
            if pass == 1 {
                // The profile found no zone (busy background, skew): let the detector find the lines.
                boxes = self
                    .det
                    .detect_max(&band, 1280)?
                    .into_iter()
                    .filter(|b| b.width() > 12.0 * b.height())
                    .map(|b| TextBox { quad: b.quad.map(|p| [p[0], p[1] + y0 as f32]), score: b.score })
                    .collect();
                boxes.sort_by(|a, b| a.center()[1].total_cmp(&b.center()[1]));
            }
            if boxes.len() < 2 {
                continue;
            }
            let strips: Vec<RgbImage> =
                boxes.iter().map(|b| self.rec.crop_squeezed(page, &b.quad, MRZ_SQUEEZE)).collect();
            let recs = self.rec.recognize(&strips)?;
            let lines: Vec<(f32, mrz_read::LineRead)> =
                boxes.iter().zip(&recs).map(|(b, r)| (b.center()[1], r.mrz.clone())).collect();
            if let Some(m) = mrz_read::find(&lines) {
                let w = m.format.width() as i64;
                let top = boxes
                    .iter()
                    .zip(&recs)
                    .filter(|(_, r)| (r.mrz.len() as i64 - w).abs() <= 4)
                    .map(|(b, _)| b.top())
                    .fold(ph as f32, f32::min);
                let better = best.as_ref().is_none_or(|(b, _): &(MrzReading, f32)| {
                    (m.valid(), m.min_confidence) > (b.valid(), b.min_confidence)
                });
                let valid = m.valid();
                if better {
                    best = Some((m, top));
                }
                // A zone whose check digits all hold is final; otherwise the detector gets its turn.
                if valid {
                    break;
                }
            }
        }
        Ok(best)
    }

    /// OCR a flattened page: the MRZ from its band (turning the page half round when the zone is at the top),
    /// then the printed fields above it.
    fn read_page(&self, mut page: RgbImage, req: &DocRequest, shape: &PageShape) -> Result<PageRead, DocError> {
        let ph = page.height() as f32;
        let mut mrz = None;
        let mut mrz_top = ph;
        if req.mrz_expected() {
            if let Some((m, top)) = self.read_mrz_band(&page, shape)? {
                mrz = Some(m);
                mrz_top = top;
            } else {
                let turned = image::imageops::rotate180(&page);
                if let Some((m, top)) = self.read_mrz_band(&turned, shape)? {
                    page = turned;
                    mrz = Some(m);
                    mrz_top = top;
                }
            }
        }
        if req.mrz_only {
            return Ok(PageRead { image: page, items: Vec::new(), mrz, printed: fields::Printed::default() });
        }
        // Printed fields live above the MRZ.
        let region_h = (mrz_top.round() as u32).clamp(1, page.height());
        let region = image::imageops::crop_imm(&page, 0, 0, page.width(), region_h).to_image();
        let mut boxes = self.det.detect_max(&region, FIELD_DET_MAX_SIDE)?;
        boxes.sort_by(|a, b| a.center()[1].total_cmp(&b.center()[1]));
        let recs = self.ocr(&page, &boxes)?;
        let items: Vec<(TextBox, String, f32)> = boxes
            .iter()
            .zip(&recs)
            .filter(|(_, r)| r.score > 0.5)
            .map(|(b, r)| (b.clone(), r.text.clone(), r.score))
            .collect();
        let mut printed = fields::map_fields(&items, PAGE_PX_PER_MM);
        if let Some(m) = &mrz {
            withdraw_misplaced_dates(&mut printed, m, req.today);
        }
        Ok(PageRead { image: page, items, mrz, printed })
    }

    fn portrait(&self, page: &RgbImage, req: &DocRequest, shape: &PageShape) -> Option<Portrait> {
        // The template zone where ICAO layouts put the portrait (generous, left side); a card's back has none.
        if req.side == CardSide::Back {
            return None;
        }
        let zone = shape.portrait_zone_mm;
        let s = PAGE_PX_PER_MM;
        let (pw, ph) = (page.width(), page.height());
        let clampr = |b: [f32; 4]| -> [u32; 4] {
            let x = (b[0] * s).max(0.0) as u32;
            let y = (b[1] * s).max(0.0) as u32;
            let w = ((b[2] * s) as u32).min(pw.saturating_sub(x)).max(1);
            let h = ((b[3] * s) as u32).min(ph.saturating_sub(y)).max(1);
            [x, y, w, h]
        };
        let [zx, zy, zw, zh] = clampr(zone);
        let zone_img = image::imageops::crop_imm(page, zx, zy, zw, zh).to_image();
        if let Some(yunet) = &self.face
            && let Ok(dec) =
                idv_vision::DecodedImage::from_rgb(zone_img.width(), zone_img.height(), zone_img.as_raw().clone())
            && let Ok(faces) = yunet.detect(&dec, &idv_face::DetectorConfig::default())
            && let Some(f) = faces.iter().max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
        {
            // Head-and-shoulders 7:9 frame around the face, in page millimetres.
            let cx = (zx as f32 + f.bbox.x + f.bbox.width / 2.0) / s;
            let cy = (zy as f32 + f.bbox.y + f.bbox.height / 2.0) / s;
            let bw = f.bbox.width / s * 2.0;
            let bh = bw * 9.0 / 7.0;
            let b = [cx - bw / 2.0, cy - bh * 0.45, bw, bh];
            let [x, y, w, h] = clampr(b);
            return Some(Portrait {
                image: image::imageops::crop_imm(page, x, y, w, h).to_image(),
                box_mm: [x as f32 / s, y as f32 / s, w as f32 / s, h as f32 / s],
                face_refined: true,
            });
        }
        Some(Portrait {
            image: zone_img,
            box_mm: [zx as f32 / s, zy as f32 / s, zw as f32 / s, zh as f32 / s],
            face_refined: false,
        })
    }
}

struct PageRead {
    image: RgbImage,
    items: Vec<(TextBox, String, f32)>,
    mrz: Option<MrzReading>,
    printed: fields::Printed,
}

/// A printed date that is the MRZ's value of *another* date field sits under the wrong caption (a small picture's
/// captions and values drift together): it is withdrawn rather than compared, so the expiry date read under
/// "Date of issue" cannot make a genuine document look not yet valid. The same for an issue date that no issuer
/// could have printed: after the verified expiry, or more than 11 years before it.
fn withdraw_misplaced_dates(printed: &mut fields::Printed, m: &MrzReading, today: mrz::Date) {
    let ty = today.year;
    let d = &m.data;
    let verified = |ok: Option<bool>, date: &mrz::MrzDate| {
        ok.filter(|&v| v).and_then(|_| date.calendar()).map(|c| (c.year, c.month, c.day))
    };
    let birth = verified(d.checks.date_of_birth, &d.date_of_birth);
    let expiry = verified(d.checks.date_of_expiry, &d.date_of_expiry);
    let read = |p: &fields::Printed, f: Field| {
        p.get(&f).and_then(|s| fields::parse_printed_date(s, f == Field::BirthDate, ty))
    };
    for (f, own, others) in [
        (Field::BirthDate, birth, [expiry, None]),
        (Field::ExpiryDate, expiry, [birth, None]),
        (Field::IssueDate, None, [birth, expiry]),
    ] {
        if let Some(v) = read(printed, f)
            && own != Some(v)
            && others.contains(&Some(v))
        {
            printed.withdraw(f, "the value is the zone's date of another field: read under the wrong caption".into());
        }
    }
    if let (Some(issue), Some(e)) = (read(printed, Field::IssueDate), expiry)
        && (issue > e || issue < (e.0 - 11, e.1, e.2))
    {
        printed.withdraw(Field::IssueDate, "an issue date no issuer prints with this expiry date".into());
    }
}

fn iso(d: &mrz::MrzDate) -> Option<String> {
    d.calendar().map(|c| format!("{:04}-{:02}-{:02}", c.year, c.month, c.day))
}

fn printed_iso(printed: &fields::Printed, f: Field, today_year: i32) -> Option<String> {
    printed
        .get(&f)
        .and_then(|s| fields::parse_printed_date(s, f == Field::BirthDate, today_year))
        .map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

/// The identity fields. Numbers, dates, sex and codes come from the MRZ when its check digits hold (they are
/// verified); names from the printed zone (the MRZ transliterates and truncates them), falling back to the MRZ;
/// the rest is printed-only.
fn identity_fields(req: &DocRequest, mrz: Option<&MrzReading>, printed: &fields::Printed) -> BTreeMap<Field, String> {
    let mut o = BTreeMap::new();
    let ty = req.today.year;
    let verified =
        |pick: fn(&mrz::Checks) -> Option<bool>| mrz.filter(|m| pick(&m.data.checks) == Some(true)).map(|m| &m.data);
    let p = |f: Field| printed.get(&f).cloned();

    let number = verified(|c| c.document_number)
        .map(|d| d.full_document_number().trim_end_matches('<').to_string())
        .or_else(|| p(Field::DocumentNumber));
    let birth = verified(|c| c.date_of_birth)
        .and_then(|d| iso(&d.date_of_birth))
        .or_else(|| printed_iso(printed, Field::BirthDate, ty));
    let expiry = verified(|c| c.date_of_expiry)
        .and_then(|d| iso(&d.date_of_expiry))
        .or_else(|| printed_iso(printed, Field::ExpiryDate, ty));
    let m = mrz.map(|m| &m.data);
    let sex = m
        .map(|d| match d.sex {
            mrz::Sex::Male => "M".to_string(),
            mrz::Sex::Female => "F".to_string(),
            _ => "X".to_string(),
        })
        .or_else(|| p(Field::Sex));
    let surname = p(Field::Surname).or_else(|| m.map(|d| d.surname.clone()));
    let given = p(Field::GivenNames).or_else(|| m.map(|d| d.given_names.clone()));
    let nationality = m.map(|d| d.nationality.trim_end_matches('<').to_string()).or_else(|| p(Field::Nationality));
    let country = m.map(|d| d.issuing_country.trim_end_matches('<').to_string()).or_else(|| p(Field::IssuingCountry));
    let personal = m
        .and_then(|d| d.personal_number().map(|s| s.trim_end_matches('<').to_string()))
        .filter(|s| !s.is_empty())
        .or_else(|| p(Field::PersonalNumber));

    let mut put = |k: Field, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            o.insert(k, v);
        }
    };
    put(Field::DocumentNumber, number);
    put(Field::Surname, surname);
    put(Field::GivenNames, given);
    put(Field::Sex, sex);
    put(Field::BirthDate, birth);
    put(Field::ExpiryDate, expiry);
    put(Field::IssueDate, printed_iso(printed, Field::IssueDate, ty));
    put(Field::Nationality, nationality);
    put(Field::IssuingCountry, country);
    put(Field::PlaceOfBirth, p(Field::PlaceOfBirth));
    put(Field::Authority, p(Field::Authority));
    put(Field::PersonalNumber, personal);
    put(Field::Address, p(Field::Address));
    o
}
