//! Who the document belongs to: typed values, a seeded generator, and dates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// A calendar day. Serialised as `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Ymd {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Ymd {
    pub const fn new(year: i32, month: u32, day: u32) -> Self {
        Ymd { year, month, day }
    }

    pub fn is_valid(self) -> bool {
        mrz::Date::new(self.year, self.month, self.day).is_well_formed()
    }

    pub fn to_days(self) -> i64 {
        mrz::Date::new(self.year, self.month, self.day).to_epoch_days()
    }

    pub fn from_days(days: i64) -> Self {
        let d = mrz::Date::from_epoch_days(days);
        Ymd::new(d.year, d.month, d.day)
    }

    pub fn add_days(self, days: i64) -> Self {
        Ymd::from_days(self.to_days() + days)
    }

    /// Same day `n` years later; 29 February becomes 28 February in a common year.
    pub fn add_years(self, n: i32) -> Self {
        let mut d = Ymd::new(self.year + n, self.month, self.day);
        if !d.is_valid() {
            d.day = 28;
        }
        d
    }

    pub fn to_mrz(self) -> mrz::MrzDate {
        mrz::MrzDate::Calendar(mrz::Date::new(self.year, self.month, self.day))
    }

    /// Today by the system clock (UTC). Only the CLI uses this: rendering itself takes "today" as input.
    pub fn today_utc() -> Self {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Ymd::from_days((secs / 86_400) as i64)
    }
}

impl fmt::Display for Ymd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Ymd {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('-').collect();
        let bad = || format!("expected YYYY-MM-DD, got {s:?}");
        if parts.len() != 3 {
            return Err(bad());
        }
        let d = Ymd::new(
            parts[0].parse().map_err(|_| bad())?,
            parts[1].parse().map_err(|_| bad())?,
            parts[2].parse().map_err(|_| bad())?,
        );
        if d.is_valid() { Ok(d) } else { Err(bad()) }
    }
}

impl From<Ymd> for String {
    fn from(d: Ymd) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for Ymd {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Everything printed about the holder and the document, as issued (the MRZ encodes these values).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// As printed in the visual zone (may hold national characters; the MRZ transliterates them).
    pub surname: String,
    pub given_names: String,
    pub document_number: String,
    /// ICAO three-letter code of the issuing state.
    pub issuing_country: String,
    pub nationality: String,
    /// `M`, `F` or `X`.
    pub sex: char,
    pub birth_date: Ymd,
    pub issue_date: Ymd,
    pub expiry_date: Ymd,
    pub place_of_birth: String,
    pub authority: String,
    pub personal_number: Option<String>,
    pub address: String,
    /// File name of the portrait inside the faces folder.
    pub portrait: String,
}

/// Where the document's dates sit relative to the reference day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    #[default]
    Valid,
    Expired,
    NotYetValid,
}

impl FromStr for Validity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "valid" => Ok(Validity::Valid),
            "expired" => Ok(Validity::Expired),
            "not-yet-valid" | "not_yet_valid" => Ok(Validity::NotYetValid),
            _ => Err(format!("unknown validity {s:?} (valid, expired, not-yet-valid)")),
        }
    }
}

const SURNAMES: &[&str] = &[
    "ERIKSSON",
    "MARTIN",
    "OKONKWO",
    "TANAKA",
    "GARCIA LOPEZ",
    "NOVAK",
    "O'BRIEN",
    "KOWALSKI",
    "MÜLLER",
    "DUBOIS",
    "ROSSI",
    "HANSEN",
    "SILVA",
    "NGUYEN",
    "PATEL",
    "SCHMIDT-WEBER",
    "JOHANSSON",
    "FERNANDEZ",
    "KIM",
    "ANDERSEN",
    "VAN DER BERG",
    "HOLMES",
    "KARLSSON",
    "MORENO",
];
const GIVEN_F: &[&str] = &[
    "ANNA MARIA",
    "EILEEN",
    "GRACE",
    "SOFIA",
    "AMARA",
    "YUKI",
    "LUCIA",
    "EMMA",
    "CHLOÉ",
    "INGRID",
    "MARTA ELENA",
    "NADIA",
];
const GIVEN_M: &[&str] = &[
    "JOHN",
    "PETER PAUL",
    "KENJI",
    "CHUKWUMA",
    "LUCAS",
    "MATEO",
    "JAN",
    "ANDRÉ",
    "OLIVER JAMES",
    "RAFAEL",
    "TOMAS",
    "DAVID",
];
const COUNTRIES: &[&str] = &[
    "UTO", "FRA", "ITA", "ESP", "NLD", "SWE", "CAN", "AUS", "NZL", "IRL", "PRT", "BEL", "AUT", "FIN", "NOR", "POL",
    "JPN", "KOR", "BRA", "MEX", "CHL", "ZAF", "KEN", "NGA", "IND", "SGP", "MYS", "PHL",
];
const PLACES: &[&str] =
    &["ZENITH", "LAKEVIEW", "NORTH HAVEN", "PORT ARLEN", "MILLBROOK", "SAINT CLAIRE", "RIVERTON", "OAKRIDGE"];
const STREETS: &[&str] = &["HIGH STREET", "LAKE ROAD", "ELM AVENUE", "MARKET SQUARE", "HILL LANE"];

/// Portraits known to exist in the faces folder after scripts/fetch-assets.sh: female and male.
pub const PORTRAITS_F: &[&str] = &["astronaut.png", "grace_hopper.jpg"];
pub const PORTRAITS_M: &[&str] = &["obama.jpg", "biden.jpg"];

impl Identity {
    /// The ICAO 9303 specimen holder (Anna Maria Eriksson of Utopia), re-dated around `today`.
    pub fn icao_specimen(today: Ymd, validity: Validity) -> Self {
        let (issue, expiry) = document_dates(&mut Rng::new(9303), today, validity);
        Identity {
            surname: "ERIKSSON".into(),
            given_names: "ANNA MARIA".into(),
            document_number: "L898902C3".into(),
            issuing_country: "UTO".into(),
            nationality: "UTO".into(),
            sex: 'F',
            birth_date: Ymd::new(1974, 8, 12),
            issue_date: issue,
            expiry_date: expiry,
            place_of_birth: "ZENITH".into(),
            authority: "PASSPORT OFFICE".into(),
            personal_number: Some("ZE184226B".into()),
            address: "12 HIGH STREET, ZENITH".into(),
            portrait: "astronaut.png".into(),
        }
    }

    /// A fake holder drawn from `seed`; dates placed around `today` according to `validity`.
    pub fn generate(seed: u64, today: Ymd, validity: Validity) -> Self {
        let mut r = Rng::new(seed).fork(0x1D);
        let female = r.below(2) == 0;
        let given = if female { *r.pick(GIVEN_F) } else { *r.pick(GIVEN_M) };
        let portrait = if female { *r.pick(PORTRAITS_F) } else { *r.pick(PORTRAITS_M) };
        let country = *r.pick(COUNTRIES);
        let nationality = if r.below(5) == 0 { *r.pick(COUNTRIES) } else { country };
        let letters = b"ABCDEFGHJKLMNPRSTUVWXYZ";
        let mut number = String::new();
        for _ in 0..(1 + r.below(2)) {
            number.push(letters[r.below(letters.len())] as char);
        }
        while number.len() < 9 {
            number.push((b'0' + r.below(10) as u8) as char);
        }
        let birth = Ymd::new(1950 + r.below(56) as i32, 1, 1).add_days(r.below(365) as i64);
        let (issue, expiry) = document_dates(&mut r, today, validity);
        let personal_number = if r.below(3) == 0 {
            None
        } else {
            let mut p = String::new();
            for _ in 0..(8 + r.below(4)) {
                p.push((b'0' + r.below(10) as u8) as char);
            }
            Some(p)
        };
        let place = *r.pick(PLACES);
        Identity {
            surname: (*r.pick(SURNAMES)).to_string(),
            given_names: given.to_string(),
            document_number: number,
            issuing_country: country.to_string(),
            nationality: nationality.to_string(),
            sex: if female { 'F' } else { 'M' },
            birth_date: birth,
            issue_date: issue,
            expiry_date: expiry,
            place_of_birth: place.to_string(),
            authority: format!("{} OFFICE", if r.below(2) == 0 { "PASSPORT" } else { "REGISTRY" }),
            personal_number,
            address: format!("{} {}, {}", 1 + r.below(120), r.pick(STREETS), place),
            portrait: portrait.to_string(),
        }
    }

    /// Country name for the document header (the registry name without any parenthetical note).
    pub fn issuing_country_name(&self) -> String {
        mrz::country_name(&self.issuing_country)
            .map(|n| n.split(" (").next().unwrap_or(n).to_uppercase())
            .unwrap_or_else(|| self.issuing_country.clone())
    }
}

/// Issue and expiry dates (ten-year validity) placed so that `today` is inside, after, or before the window.
fn document_dates(r: &mut Rng, today: Ymd, validity: Validity) -> (Ymd, Ymd) {
    match validity {
        Validity::Valid => {
            let issue = today.add_days(-(30 + r.below(3000) as i64));
            (issue, issue.add_years(10).add_days(-1))
        }
        Validity::Expired => {
            let expiry = today.add_days(-(1 + r.below(2000) as i64));
            (expiry.add_days(1).add_years(-10), expiry)
        }
        Validity::NotYetValid => {
            let issue = today.add_days(1 + r.below(300) as i64);
            (issue, issue.add_years(10).add_days(-1))
        }
    }
}
