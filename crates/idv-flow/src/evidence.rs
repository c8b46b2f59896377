//! Typed evidence: what the engines measured in the accepted rounds, in the terms the policy decides on. Names
//! here are idv's own; the merchant API's keys (`ocrIdInfo`, `faceImg`, …) are given by `idv-api` when it renders.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// An image kept as evidence of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    /// The document's front page (a passport's data page).
    DocFront,
    /// The document's back page (a TD1 card's MRZ side).
    DocBack,
    /// The portrait cut from the document.
    DocPortrait,
    /// The best selfie frame of the face step.
    Selfie,
    /// The merchant's reference face (FACE_LIVENESS against a known face).
    ReferenceFace,
}

impl ImageKind {
    /// The stable name the store files the blob under.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::DocFront => "doc_front",
            ImageKind::DocBack => "doc_back",
            ImageKind::DocPortrait => "doc_portrait",
            ImageKind::Selfie => "face",
            ImageKind::ReferenceFace => "reference_face",
        }
    }
}

/// A stored blob's id (the store chooses it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BlobId(pub String);

/// Which document page a reading is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Page {
    Front,
    Back,
}

/// The class of document, which decides how its number is named and whether a full name is composed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocClass {
    Passport,
    IdCard,
    Visa,
    /// "Any ICAO MRZ document": the reading's MRZ says which.
    Any,
}

/// A field of the identity read from a document (MRZ-verified where the zone's check digits hold, printed
/// otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocField {
    DocumentNumber,
    Surname,
    GivenNames,
    Sex,
    BirthDate,
    ExpiryDate,
    IssueDate,
    Nationality,
    IssuingCountry,
    PlaceOfBirth,
    Authority,
    PersonalNumber,
    Address,
}

impl DocField {
    /// The stable snake_case name (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            DocField::DocumentNumber => "document_number",
            DocField::Surname => "surname",
            DocField::GivenNames => "given_names",
            DocField::Sex => "sex",
            DocField::BirthDate => "birth_date",
            DocField::ExpiryDate => "expiry_date",
            DocField::IssueDate => "issue_date",
            DocField::Nationality => "nationality",
            DocField::IssuingCountry => "issuing_country",
            DocField::PlaceOfBirth => "place_of_birth",
            DocField::Authority => "authority",
            DocField::PersonalNumber => "personal_number",
            DocField::Address => "address",
        }
    }
}

/// What a failed document check means for the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckClass {
    /// The document itself is wrong: unreadable zone, check digit, MRZ vs printed, type, country.
    Consistency,
    /// The document is genuine-looking but outside its validity dates (expired, not yet valid).
    Validity,
}

/// One consistency check run on a document reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocCheck {
    /// The engine's stable check name (`mrz_check_document_number`, `not_expired`, …).
    pub name: String,
    pub class: CheckClass,
    pub passed: bool,
    /// Empty when passed.
    pub reason: String,
}

/// The machine-readable zone as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrzEvidence {
    /// ICAO layout (`TD3`, `TD1`).
    pub format: String,
    pub lines: Vec<String>,
    pub valid: bool,
    /// Cells changed by check-digit-guided repair: (line, column, from, to).
    pub repairs: Vec<(usize, usize, char, char)>,
}

/// A model file a measurement depended on, for the decision record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    /// The model's role, when the engine names one (`detector`, …).
    pub name: Option<String>,
    pub file: String,
    pub sha256: String,
    /// The registry package it came from, when known.
    pub package: Option<String>,
}

/// Everything read from one document picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocReading {
    /// The DocType code the merchant asked for.
    pub doc_type: String,
    pub class: DocClass,
    pub fields: BTreeMap<DocField, String>,
    /// The fields read from the printed (visual) zone, whatever the MRZ said.
    pub printed: BTreeSet<DocField>,
    /// Printed fields whose value did not read as its type or with enough confidence, with the reason; they take no
    /// part in any check.
    #[serde(default)]
    pub unread: BTreeMap<DocField, String>,
    pub checks: Vec<DocCheck>,
    pub mrz: Option<MrzEvidence>,
    /// How the page was found in the picture (`contour`, `frame`, `mrz`, `text`).
    pub located_by: String,
    pub models: Vec<ModelRef>,
    /// A portrait was cut from the page.
    pub portrait_found: bool,
    /// The face detector placed the portrait crop (not only the layout's template zone).
    pub portrait_face_refined: bool,
}

impl DocReading {
    /// Every check passed, and at least one ran.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    pub fn failed_checks(&self) -> impl Iterator<Item = &DocCheck> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// An accepted document page: its reading and the images kept of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocEvidence {
    pub page: Page,
    pub image: BlobId,
    pub portrait: Option<BlobId>,
    pub reading: DocReading,
}

/// Quality of the selfie picture, 0–100 each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceQuality {
    pub face_quality_score: f32,
    pub sharpness_score: f32,
    pub illumination_score: f32,
}

/// The face engine's decision thresholds in force.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceThresholds {
    pub decision_cosine: f32,
    pub decision_score: f32,
    pub detector_score: f32,
}

/// The selfie as analysed by the face engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfieAnalysis {
    pub quality: FaceQuality,
    pub thresholds: FaceThresholds,
    pub detector: ModelRef,
    pub recognizer: ModelRef,
}

/// The selfie compared with the reference: the document portrait, or the merchant's reference face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Comparison {
    /// There was nothing to compare with.
    NotCompared,
    /// A reference existed but no face could be analysed in it.
    ReferenceUnusable { why: String },
    Compared {
        /// 0–100, the API's FaceComparisonScore (two decimals).
        score: f32,
        cosine: f32,
        matched: bool,
    },
}

impl Comparison {
    /// `None` when nothing was compared; an unusable reference counts as no match.
    pub fn matched(&self) -> Option<bool> {
        match self {
            Comparison::NotCompared => None,
            Comparison::ReferenceUnusable { .. } => Some(false),
            Comparison::Compared { matched, .. } => Some(*matched),
        }
    }
}

/// What the liveness check concluded. Inconclusive captures never get here: they are retakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LivenessOutcome {
    Passed,
    Attack,
}

/// The challenge the capture answered, as issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    pub actions: Vec<String>,
    /// When each action was asked for, ms after the capture's first frame (absent from records made before cues).
    #[serde(default)]
    pub cues_ms: Vec<u32>,
    pub colours: Vec<String>,
    pub colour_ms: u32,
    pub frame_interval_ms: u32,
    pub action_window_ms: u32,
}

/// How the liveness outcome was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum LivenessCheck {
    /// The frames were already submitted in another transaction: decided before any engine ran.
    FramesReused,
    /// The challenge-response engine measured the capture.
    Challenge {
        challenge: ChallengeRecord,
        /// The engine's own measurement report, kept verbatim for the record; the policy never reads it.
        scores: serde_json::Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivenessEvidence {
    pub outcome: LivenessOutcome,
    /// `code: detail` for an attack; what was performed for a pass.
    pub reasons: Vec<String>,
    pub check: LivenessCheck,
}

/// An accepted face step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceEvidence {
    pub image: BlobId,
    /// `None` when the capture was decided before the face engine ran (replayed frames).
    pub selfie: Option<SelfieAnalysis>,
    pub comparison: Comparison,
    pub liveness: LivenessEvidence,
    /// Faces of other users in the merchant's face libraries that this face matches (Initialize's
    /// `FaceGroupCodes`); empty when no library was searched or none matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<DuplicateFaceRef>,
}

/// A registered face the live face matched, as the library names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateFaceRef {
    pub group_code: String,
    pub face_id: String,
    pub merchant_user_id: String,
    /// FaceComparisonScore of the match.
    pub score: f32,
}

/// What one accepted round contributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepEvidence {
    Document(DocEvidence),
    Face(FaceEvidence),
}

/// Evidence gathered by the accepted rounds of one transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub doc_front: Option<DocEvidence>,
    pub doc_back: Option<DocEvidence>,
    pub face: Option<FaceEvidence>,
}

impl Evidence {
    /// Records one accepted step; a later acceptance of the same step replaces the earlier one.
    pub fn record(&mut self, step: StepEvidence) {
        match step {
            StepEvidence::Document(d) if d.page == Page::Back => self.doc_back = Some(d),
            StepEvidence::Document(d) => self.doc_front = Some(d),
            StepEvidence::Face(f) => self.face = Some(f),
        }
    }

    /// The document pages accepted so far, front first.
    pub fn documents(&self) -> impl Iterator<Item = &DocEvidence> {
        self.doc_front.iter().chain(self.doc_back.iter())
    }

    /// The images a verdict refers to, by kind.
    pub fn images(&self) -> BTreeMap<ImageKind, BlobId> {
        let mut out = BTreeMap::new();
        for d in self.documents() {
            out.insert(if d.page == Page::Back { ImageKind::DocBack } else { ImageKind::DocFront }, d.image.clone());
            if let Some(p) = &d.portrait {
                out.insert(ImageKind::DocPortrait, p.clone());
            }
        }
        if let Some(f) = &self.face {
            out.insert(ImageKind::Selfie, f.image.clone());
        }
        out
    }
}
