//! Page geometry in millimetres, after ICAO 9303 Parts 4 (TD3), 5 (TD1), 6 (TD2) and 7 (MRV-A, MRV-B): page sizes, the MRZ at 2.54 mm
//! pitch near the bottom edge, the portrait on the left, captioned fields beside it.

use serde::{Deserialize, Serialize};

use crate::DocKind;

/// A printed (visual-zone) field of a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrintedField {
    DocumentType,
    IssuingCountry,
    DocumentNumber,
    Surname,
    GivenNames,
    Nationality,
    BirthDate,
    Sex,
    PlaceOfBirth,
    IssueDate,
    Authority,
    ExpiryDate,
    PersonalNumber,
    Address,
}

impl PrintedField {
    pub const ALL: [PrintedField; 14] = [
        PrintedField::DocumentType,
        PrintedField::IssuingCountry,
        PrintedField::DocumentNumber,
        PrintedField::Surname,
        PrintedField::GivenNames,
        PrintedField::Nationality,
        PrintedField::BirthDate,
        PrintedField::Sex,
        PrintedField::PlaceOfBirth,
        PrintedField::IssueDate,
        PrintedField::Authority,
        PrintedField::ExpiryDate,
        PrintedField::PersonalNumber,
        PrintedField::Address,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PrintedField::DocumentType => "document_type",
            PrintedField::IssuingCountry => "issuing_country",
            PrintedField::DocumentNumber => "document_number",
            PrintedField::Surname => "surname",
            PrintedField::GivenNames => "given_names",
            PrintedField::Nationality => "nationality",
            PrintedField::BirthDate => "birth_date",
            PrintedField::Sex => "sex",
            PrintedField::PlaceOfBirth => "place_of_birth",
            PrintedField::IssueDate => "issue_date",
            PrintedField::Authority => "authority",
            PrintedField::ExpiryDate => "expiry_date",
            PrintedField::PersonalNumber => "personal_number",
            PrintedField::Address => "address",
        }
    }
}

impl std::str::FromStr for PrintedField {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.replace('-', "_");
        PrintedField::ALL.into_iter().find(|f| f.as_str() == norm).ok_or_else(|| format!("unknown printed field {s:?}"))
    }
}

/// One captioned field: caption top-left corner and the value baseline, in mm from the page's top-left.
#[derive(Clone, Copy, Debug)]
pub struct FieldSlot {
    pub field: PrintedField,
    pub caption: &'static str,
    pub x: f32,
    pub y: f32,
}

pub struct Layout {
    pub size_mm: (f32, f32),
    /// Header lines: (text, x, baseline, cap height), all mm; `{COUNTRY}` is replaced by the state's name.
    pub header: &'static [(&'static str, f32, f32, f32)],
    pub portrait_mm: Option<[f32; 4]>,
    pub fields: &'static [FieldSlot],
    /// MRZ: left edge of the first cell, baseline of each line.
    pub mrz: Option<(f32, &'static [f32])>,
    pub tint: [u8; 3],
    pub accent: [u8; 3],
}

/// Cap heights: captions small, values about 2.6 mm, the MRZ OCR-B size 1 (2.42 mm nominal character height).
pub const CAPTION_CAP_MM: f32 = 1.45;
pub const VALUE_CAP_MM: f32 = 2.5;
pub const VALUE_BASELINE_BELOW_CAPTION_MM: f32 = 4.6;
pub const MRZ_CAP_MM: f32 = 2.42;
pub const MRZ_PITCH_MM: f32 = 2.54;

const fn slot(field: PrintedField, caption: &'static str, x: f32, y: f32) -> FieldSlot {
    FieldSlot { field, caption, x, y }
}

use PrintedField as F;

static TD3_FIELDS: &[FieldSlot] = &[
    slot(F::DocumentType, "Type / Type", 44.0, 13.0),
    slot(F::IssuingCountry, "Code / Code", 62.0, 13.0),
    slot(F::DocumentNumber, "Passport No. / No. du passeport", 84.0, 13.0),
    slot(F::Surname, "Surname / Nom", 44.0, 20.5),
    slot(F::GivenNames, "Given names / Prénoms", 44.0, 28.0),
    slot(F::Nationality, "Nationality / Nationalité", 44.0, 35.5),
    slot(F::PersonalNumber, "Personal No. / No. personnel", 84.0, 35.5),
    slot(F::BirthDate, "Date of birth / Naissance", 44.0, 43.0),
    slot(F::Sex, "Sex / Sexe", 84.0, 43.0),
    slot(F::PlaceOfBirth, "Place of birth", 96.0, 43.0),
    slot(F::IssueDate, "Date of issue / Délivrance", 44.0, 50.5),
    slot(F::Authority, "Authority / Autorité", 84.0, 50.5),
    slot(F::ExpiryDate, "Date of expiry / Expiration", 44.0, 58.0),
];

static TD1_FRONT_FIELDS: &[FieldSlot] = &[
    slot(F::Surname, "Surname / Nom", 30.0, 10.5),
    slot(F::GivenNames, "Given names / Prénoms", 30.0, 17.0),
    slot(F::Sex, "Sex / Sexe", 30.0, 23.5),
    slot(F::Nationality, "Nationality", 42.0, 23.5),
    slot(F::BirthDate, "Date of birth", 60.0, 23.5),
    slot(F::DocumentNumber, "Document No.", 30.0, 30.0),
    slot(F::ExpiryDate, "Date of expiry", 60.0, 30.0),
];

static TD1_BACK_FIELDS: &[FieldSlot] = &[
    slot(F::Address, "Address / Adresse", 5.0, 4.0),
    slot(F::PlaceOfBirth, "Place of birth", 5.0, 11.0),
    slot(F::IssueDate, "Date of issue", 45.0, 11.0),
    slot(F::Authority, "Authority / Autorité", 5.0, 18.0),
    slot(F::PersonalNumber, "Personal No.", 45.0, 18.0),
];

static TD2_FIELDS: &[FieldSlot] = &[
    slot(F::DocumentNumber, "Document No. / No. du document", 34.0, 10.5),
    slot(F::Surname, "Surname / Nom", 34.0, 17.5),
    slot(F::GivenNames, "Given names / Prénoms", 34.0, 24.5),
    slot(F::Nationality, "Nationality / Nationalité", 34.0, 31.5),
    slot(F::Sex, "Sex / Sexe", 72.0, 31.5),
    slot(F::BirthDate, "Date of birth / Naissance", 34.0, 38.5),
    slot(F::PlaceOfBirth, "Place of birth", 72.0, 38.5),
    slot(F::IssueDate, "Date of issue / Délivrance", 34.0, 45.5),
    slot(F::ExpiryDate, "Date of expiry / Expiration", 72.0, 45.5),
];

static MRV_A_FIELDS: &[FieldSlot] = &[
    slot(F::DocumentNumber, "Visa No. / No. du visa", 38.0, 12.0),
    slot(F::Authority, "Authority / Autorité", 80.0, 12.0),
    slot(F::Surname, "Surname / Nom", 38.0, 19.5),
    slot(F::GivenNames, "Given names / Prénoms", 38.0, 27.0),
    slot(F::Nationality, "Nationality / Nationalité", 38.0, 34.5),
    slot(F::Sex, "Sex / Sexe", 80.0, 34.5),
    slot(F::BirthDate, "Date of birth / Naissance", 38.0, 42.0),
    slot(F::IssueDate, "Valid from / Du", 38.0, 49.5),
    slot(F::ExpiryDate, "Valid until / Au", 80.0, 49.5),
];

static MRV_B_FIELDS: &[FieldSlot] = &[
    slot(F::DocumentNumber, "Visa No. / No. du visa", 34.0, 10.5),
    slot(F::Surname, "Surname / Nom", 34.0, 17.5),
    slot(F::GivenNames, "Given names / Prénoms", 34.0, 24.5),
    slot(F::Nationality, "Nationality / Nationalité", 34.0, 31.5),
    slot(F::Sex, "Sex / Sexe", 72.0, 31.5),
    slot(F::BirthDate, "Date of birth / Naissance", 34.0, 38.5),
    slot(F::IssueDate, "Valid from / Du", 34.0, 45.5),
    slot(F::ExpiryDate, "Valid until / Au", 72.0, 45.5),
];

static TD3_MRZ: [f32; 2] = [77.6, 83.0];
/// TD2 and MRV-B: 105 × 74 mm, lines of 36 (91.4 mm) from 6 mm, the lower baseline 4.8 mm above the edge.
static TD2_MRZ: [f32; 2] = [64.6, 69.2];
/// MRV-A: 120 × 80 mm, lines of 44 (111.8 mm) from 4 mm.
static MRV_A_MRZ: [f32; 2] = [71.0, 76.0];
static TD1_MRZ: [f32; 3] = [41.0, 45.6, 50.2];

pub fn layout(kind: DocKind) -> Layout {
    match kind {
        DocKind::Td3 => Layout {
            size_mm: (125.0, 88.0),
            header: &[("{COUNTRY}", 44.0, 7.0, 3.2), ("PASSPORT / PASSEPORT", 84.0, 7.0, 2.2)],
            portrait_mm: Some([5.0, 13.0, 32.0, 45.0]),
            fields: TD3_FIELDS,
            mrz: Some((6.0, &TD3_MRZ)),
            tint: [228, 238, 233],
            accent: [40, 70, 110],
        },
        DocKind::Td1Front => Layout {
            size_mm: (85.6, 54.0),
            header: &[("{COUNTRY}", 4.0, 6.2, 2.6), ("IDENTITY CARD / CARTE D'IDENTITÉ", 30.0, 6.2, 1.8)],
            portrait_mm: Some([3.5, 10.0, 23.0, 30.0]),
            fields: TD1_FRONT_FIELDS,
            mrz: None,
            tint: [236, 232, 222],
            accent: [110, 45, 40],
        },
        DocKind::Td1Back => Layout {
            size_mm: (85.6, 54.0),
            header: &[],
            portrait_mm: None,
            fields: TD1_BACK_FIELDS,
            mrz: Some((4.7, &TD1_MRZ)),
            tint: [236, 232, 222],
            accent: [110, 45, 40],
        },
        DocKind::Td2 => Layout {
            size_mm: (105.0, 74.0),
            header: &[("{COUNTRY}", 4.0, 6.5, 2.8), ("IDENTITY CARD / CARTE D'IDENTITÉ", 40.0, 6.5, 2.0)],
            portrait_mm: Some([4.0, 11.0, 26.0, 34.0]),
            fields: TD2_FIELDS,
            mrz: Some((6.0, &TD2_MRZ)),
            tint: [230, 234, 240],
            accent: [45, 60, 120],
        },
        DocKind::MrvA => Layout {
            size_mm: (120.0, 80.0),
            header: &[("{COUNTRY}", 4.0, 7.0, 3.0), ("VISA", 80.0, 7.0, 3.0)],
            portrait_mm: Some([4.0, 12.0, 29.0, 37.0]),
            fields: MRV_A_FIELDS,
            mrz: Some((4.0, &MRV_A_MRZ)),
            tint: [240, 232, 236],
            accent: [120, 40, 80],
        },
        DocKind::MrvB => Layout {
            size_mm: (105.0, 74.0),
            header: &[("{COUNTRY}", 4.0, 6.5, 2.8), ("VISA", 72.0, 6.5, 2.8)],
            portrait_mm: Some([4.0, 11.0, 26.0, 34.0]),
            fields: MRV_B_FIELDS,
            mrz: Some((6.0, &TD2_MRZ)),
            tint: [236, 240, 228],
            accent: [60, 100, 40],
        },
    }
}
