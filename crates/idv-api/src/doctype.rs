//! Document types (`DocType`) this server can read. The code formats are cloudauth-intl's: 8-digit legacy codes
//! (eKYC / ID_OCR) and ISO-style `<ISO3><kind 2 digits><seq 3 digits>` codes (eKYC_PRO). Both formats are accepted
//! for every document product; a well-formed code of a document the engine cannot read is refused by name.

use serde::{Deserialize, Serialize};

/// ICAO 9303 layout of the machine-readable zone the document carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MrzLayout {
    /// Passport data page: 2 lines of 44.
    Td3,
    /// ID-1 card: 3 lines of 30, on the back.
    Td1,
    /// ID-2 card: 2 lines of 36, on the data side.
    Td2,
    /// Visa, format A: 2 lines of 44.
    MrvA,
    /// Visa, format B: 2 lines of 36.
    MrvB,
    /// Any of them: the layout is detected from the zone and reported.
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocType {
    code: [u8; 8],
    layout: MrzLayout,
}

/// (code, description, layout)
const SUPPORTED: &[(&str, &str, MrzLayout)] = &[
    ("01000000", "passport (any issuing country, ICAO TD3)", MrzLayout::Td3),
    ("GLB03002", "e-passport read through its MRZ (any issuing country, ICAO TD3)", MrzLayout::Td3),
    ("GLB01001", "identity card with an ICAO TD1 MRZ (any issuing country; idv extension code)", MrzLayout::Td1),
    ("GLB01002", "identity card with an ICAO TD2 MRZ (any issuing country; idv extension code)", MrzLayout::Td2),
    ("GLB07001", "machine-readable visa, format A (ICAO MRV-A; idv extension code)", MrzLayout::MrvA),
    ("GLB07002", "machine-readable visa, format B (ICAO MRV-B; idv extension code)", MrzLayout::MrvB),
    (
        "GLB00000",
        "any ICAO machine-readable document, read on its MRZ side; the layout is reported (idv extension code)",
        MrzLayout::Any,
    ),
];

impl DocType {
    pub fn parse(code: &str) -> Result<DocType, String> {
        let legacy = code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit());
        let iso = code.len() == 8
            && code.is_char_boundary(3)
            && code[..3].bytes().all(|b| b.is_ascii_uppercase())
            && code[3..].bytes().all(|b| b.is_ascii_digit());
        let found = SUPPORTED.iter().find(|(c, _, _)| *c == code).map(|(_, _, l)| *l);
        // Every ICAO passport carries a TD3 MRZ, so a state's passport code (`<ISO3>03nnn`) is readable too.
        let layout = found.or_else(|| (iso && &code[3..5] == "03").then_some(MrzLayout::Td3));
        if let Some(layout) = layout {
            let mut c = [0u8; 8];
            c.copy_from_slice(code.as_bytes());
            return Ok(DocType { code: c, layout });
        }
        let list = SUPPORTED.iter().map(|(c, d, _)| format!("{c} ({d})")).collect::<Vec<_>>().join("; ");
        if legacy || iso {
            Err(format!(
                "document type {code} is not supported by this server; supported: {list}; <ISO3>03nnn (a state's passport)"
            ))
        } else {
            Err(format!(
                "\"{}\" is not a document type code; supported: {list}",
                code.chars().take(16).collect::<String>()
            ))
        }
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).expect("constructed from an ASCII code")
    }

    pub fn layout(&self) -> MrzLayout {
        self.layout
    }

    /// TD1 cards carry the MRZ on the back, so they may be captured on two pages; a passport data page, a TD2
    /// card's data side, a visa and "any MRZ document" (read on its MRZ side) are one.
    pub fn has_back_page(&self) -> bool {
        self.layout() == MrzLayout::Td1
    }
}

impl Serialize for DocType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for DocType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DocType::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_and_refused() {
        assert_eq!(DocType::parse("GLB03002").unwrap().layout(), MrzLayout::Td3);
        assert!(DocType::parse("GLB01001").unwrap().has_back_page());
        let e = DocType::parse("00000006").unwrap_err();
        assert!(e.contains("not supported") && e.contains("01000000"), "{e}");
        assert!(DocType::parse("hello").unwrap_err().contains("not a document type"));
        assert_eq!(DocType::parse("CHN03001").unwrap().layout(), MrzLayout::Td3);
        assert!(DocType::parse("CHN01001").is_err(), "national ID cards without an ICAO MRZ are refused");
        assert!(DocType::parse("ÄÖÜ03001").is_err());
        for (code, layout) in [
            ("GLB01002", MrzLayout::Td2),
            ("GLB07001", MrzLayout::MrvA),
            ("GLB07002", MrzLayout::MrvB),
            ("GLB00000", MrzLayout::Any),
        ] {
            let d = DocType::parse(code).unwrap();
            assert_eq!((d.layout(), d.has_back_page()), (layout, false), "{code}");
        }
    }
}
