//! Printed (visual-zone) fields: found by their captions, since layouts differ between issuers while the
//! captions ICAO prescribes ("Surname", "Date of birth", ...) do not; values are parsed into typed form.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ocr::TextBox;

/// Fields of the visual zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
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

impl Field {
    pub const ALL: [Field; 14] = [
        Field::DocumentType,
        Field::IssuingCountry,
        Field::DocumentNumber,
        Field::Surname,
        Field::GivenNames,
        Field::Nationality,
        Field::BirthDate,
        Field::Sex,
        Field::PlaceOfBirth,
        Field::IssueDate,
        Field::Authority,
        Field::ExpiryDate,
        Field::PersonalNumber,
        Field::Address,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::DocumentType => "document_type",
            Field::IssuingCountry => "issuing_country",
            Field::DocumentNumber => "document_number",
            Field::Surname => "surname",
            Field::GivenNames => "given_names",
            Field::Nationality => "nationality",
            Field::BirthDate => "birth_date",
            Field::Sex => "sex",
            Field::PlaceOfBirth => "place_of_birth",
            Field::IssueDate => "issue_date",
            Field::Authority => "authority",
            Field::ExpiryDate => "expiry_date",
            Field::PersonalNumber => "personal_number",
            Field::Address => "address",
        }
    }

    pub fn is_date(self) -> bool {
        matches!(self, Field::BirthDate | Field::IssueDate | Field::ExpiryDate)
    }
}

/// Caption phrases (lower case, accents stripped), most specific first so "place of birth" is not taken for
/// "date of birth" and "given names" not for "names".
const CAPTIONS: &[(&str, Field)] = &[
    ("place of birth", Field::PlaceOfBirth),
    ("lieu de naissance", Field::PlaceOfBirth),
    ("date of birth", Field::BirthDate),
    ("birth date", Field::BirthDate),
    ("date de naissance", Field::BirthDate),
    ("date of issue", Field::IssueDate),
    ("issue date", Field::IssueDate),
    ("date of expiry", Field::ExpiryDate),
    ("expiry date", Field::ExpiryDate),
    ("date of expiration", Field::ExpiryDate),
    ("valid until", Field::ExpiryDate),
    ("given names", Field::GivenNames),
    ("given name", Field::GivenNames),
    ("prenoms", Field::GivenNames),
    ("surname", Field::Surname),
    ("nationality", Field::Nationality),
    ("passport no", Field::DocumentNumber),
    ("document no", Field::DocumentNumber),
    ("card no", Field::DocumentNumber),
    ("personal no", Field::PersonalNumber),
    ("authority", Field::Authority),
    ("address", Field::Address),
    ("sex", Field::Sex),
    ("type", Field::DocumentType),
    ("code", Field::IssuingCountry),
];

/// Lower-case ASCII with accents folded and punctuation other than `/` turned to spaces.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'À' | 'Á' | 'Â' | 'Ä' | 'Ã' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Î' | 'Ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ô' | 'Ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Û' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            'ñ' | 'Ñ' => 'n',
            c => c,
        };
        if c.is_alphanumeric() || c == '/' {
            out.extend(c.to_lowercase());
        } else {
            out.push(' ');
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Caption phrases found in a text, tolerating OCR slips ("Sumame", "expiry7Expiration"): each window of
/// words is matched to the closest phrase within a small edit distance, closest matches first.
/// Returns (field, index of the first word, number of words, total words).
fn caption_matches(text: &str) -> (Vec<(Field, usize, usize)>, usize) {
    // Captions hold no digits; a digit is a misread separator.
    let f: String = fold(text).chars().map(|c| if c.is_ascii_digit() || c == '/' { ' ' } else { c }).collect();
    let words: Vec<&str> = f.split_whitespace().collect();
    let mut cands: Vec<(usize, usize, usize, Field, usize)> = Vec::new(); // dist, -len, start, field, k
    for &(phrase, field) in CAPTIONS {
        let k = phrase.split(' ').count();
        let allowed = match phrase.len() {
            0..=4 => 0,
            5..=6 => 1,
            _ => 2,
        };
        for start in 0..words.len().saturating_sub(k - 1) {
            let window = words[start..start + k].join(" ");
            let d = edit_distance(&window, phrase);
            if d <= allowed {
                cands.push((d, usize::MAX - phrase.len(), start, field, k));
            }
        }
    }
    cands.sort();
    let mut taken = vec![false; words.len()];
    let mut out: Vec<(Field, usize, usize)> = Vec::new();
    for (_, _, start, field, k) in cands {
        if taken[start..start + k].iter().any(|&t| t) || out.iter().any(|(g, _, _)| *g == field) {
            continue;
        }
        taken[start..start + k].iter_mut().for_each(|t| *t = true);
        out.push((field, start, k));
    }
    (out, words.len())
}

/// Caption matches inside one text box: (field, x position in the box's coordinates).
fn captions_in(text: &str, b: &TextBox) -> Vec<(Field, f32)> {
    let (found, n) = caption_matches(text);
    let n = n.max(1) as f32;
    found.into_iter().map(|(field, i, _)| (field, b.left() + (b.right() - b.left()) * i as f32 / n)).collect()
}

/// Whether a recognised box reads as a caption: caption phrases and at most a translation after them.
fn is_caption(text: &str) -> bool {
    let (found, n) = caption_matches(text);
    let covered: usize = found.iter().map(|(_, _, k)| k).sum();
    // Bilingual captions ("Surname / Nom") carry about as many untranslated words again.
    !found.is_empty() && found.iter().any(|(_, start, _)| *start == 0) && n <= covered * 2 + 2
}

/// A recognised value below this confidence is not trusted as evidence: the field is reported unread.
pub const MIN_VALUE_CONFIDENCE: f32 = 0.8;

/// The printed zone as read: each value typed (it parses as its field's kind) and with the recogniser's
/// confidence; a caption whose value did not read as its type, or read with low confidence, is `unread` with the
/// reason, and takes no part in the consistency checks (a misread is not a forgery).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Printed {
    pub values: BTreeMap<Field, String>,
    pub confidence: BTreeMap<Field, f32>,
    pub unread: BTreeMap<Field, String>,
}

impl Printed {
    pub fn get(&self, f: &Field) -> Option<&String> {
        self.values.get(f)
    }

    /// Withdraw a value the page's other evidence contradicts (the MRZ says it is another field's).
    pub fn withdraw(&mut self, f: Field, why: String) {
        if self.values.remove(&f).is_some() {
            self.confidence.remove(&f);
            self.unread.insert(f, why);
        }
    }
}

/// Whether a cleaned value has the shape of its field; `Err` says what it looked like instead.
pub fn typed(field: Field, v: &str) -> Result<(), String> {
    let letters = v.chars().filter(|c| c.is_alphabetic()).count();
    let digits = v.chars().filter(|c| c.is_ascii_digit()).count();
    let ok = match field {
        Field::BirthDate | Field::IssueDate | Field::ExpiryDate => parse_printed_date(v, false, 2000).is_some(),
        Field::Sex => matches!(v, "M" | "F" | "X"),
        // A name holds no digit: a date or a number under a name's caption belongs to another caption.
        Field::Surname | Field::GivenNames => letters > 0 && digits == 0,
        // Numbers carry digits; a word under a number's caption is some other field's value.
        Field::DocumentNumber | Field::PersonalNumber => (4..=24).contains(&v.len()) && digits > 0,
        // A code or a nationality's name: letters (an OCR `0` for `O` aside).
        Field::Nationality | Field::IssuingCountry => letters > 0 && digits <= 1,
        Field::DocumentType => (1..=3).contains(&v.len()) && digits == 0,
        Field::PlaceOfBirth | Field::Authority | Field::Address => !v.is_empty(),
    };
    if ok { Ok(()) } else { Err(format!("{v:?} does not read as {}", field.as_str().replace('_', " "))) }
}

/// Map recognised boxes (page coordinates, `px_per_mm` pixels per millimetre, the recogniser's confidence) to
/// fields: each caption takes the nearest text below it that starts near the caption's left edge; its value is
/// kept when it is typed and confident, and reported unread otherwise.
pub fn map_fields(items: &[(TextBox, String, f32)], px_per_mm: f32) -> Printed {
    let mut captions: Vec<(Field, f32, f32)> = Vec::new(); // field, x, caption bottom
    let mut values: Vec<usize> = Vec::new();
    for (i, (b, t, _)) in items.iter().enumerate() {
        if is_caption(t) {
            for (field, x) in captions_in(t, b) {
                captions.push((field, x, b.bottom()));
            }
        } else if !t.trim().is_empty() {
            values.push(i);
        }
    }
    let mut out = Printed::default();
    let mut claimed = std::collections::BTreeSet::new();
    let mut used = vec![false; items.len()];
    // Closest pairs first, so two captions never claim the same value.
    let mut pairs: Vec<(f32, Field, usize)> = Vec::new();
    for &(field, x, bottom) in &captions {
        for &i in &values {
            let b = &items[i].0;
            let dy = (b.top() - bottom) / px_per_mm;
            let dx = (b.left() - x) / px_per_mm;
            if (-1.5..=6.0).contains(&dy) && (-3.0..=4.0).contains(&dx) {
                pairs.push((dy.abs() + dx.abs() * 0.5, field, i));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (_, field, i) in pairs {
        if used[i] || claimed.contains(&field) {
            continue;
        }
        used[i] = true;
        claimed.insert(field);
        let (v, conf) = (clean_value(field, &items[i].1), items[i].2);
        match typed(field, &v) {
            Err(why) => {
                out.unread.insert(field, why);
            }
            Ok(()) if conf < MIN_VALUE_CONFIDENCE => {
                out.unread.insert(field, format!("read with confidence {conf:.2}, under {MIN_VALUE_CONFIDENCE}"));
            }
            Ok(()) => {
                out.values.insert(field, v);
                out.confidence.insert(field, conf);
            }
        }
    }
    out
}

/// Spaces between runs of letters and digits ("12APR 2005" → "12 APR 2005"): the recogniser sometimes drops
/// the narrow space of a printed date.
fn split_letters_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if let Some(p) = prev
            && ((p.is_ascii_digit() && c.is_alphabetic()) || (p.is_alphabetic() && c.is_ascii_digit()))
        {
            out.push(' ');
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

fn clean_value(field: Field, v: &str) -> String {
    let v = v.trim();
    if field.is_date() && v.chars().any(|c| c.is_alphabetic()) {
        return split_letters_digits(v).split_whitespace().collect::<Vec<_>>().join(" ");
    }
    match field {
        Field::DocumentNumber | Field::PersonalNumber | Field::IssuingCountry | Field::Nationality => {
            v.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_uppercase()
        }
        Field::Sex => v.chars().find(|c| c.is_alphabetic()).map(|c| c.to_uppercase().to_string()).unwrap_or_default(),
        _ => v.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/// A printed date in any of the usual forms (`12 AUG 1974`, `12 AUG/AOÛT 74`, `12.08.1974`, `12/08/1974`,
/// `1974-08-12`) as (year, month, day). Two-digit years need `birth` to pick the century.
pub fn parse_printed_date(s: &str, birth: bool, today_year: i32) -> Option<(i32, u32, u32)> {
    let up = split_letters_digits(&s.to_uppercase());
    let tokens: Vec<String> =
        up.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_string).collect();
    let year = |t: &str| -> Option<i32> {
        let y: i32 = t.parse().ok()?;
        match t.len() {
            4 => Some(y),
            2 => {
                let cur = today_year % 100;
                Some(if birth && y > cur { 1900 + y } else { 2000 + y })
            }
            _ => None,
        }
    };
    let month_name = |t: &str| MONTHS.iter().position(|m| t.starts_with(m)).map(|i| i as u32 + 1);
    let valid = |y: i32, m: u32, d: u32| mrz::Date::new(y, m, d).is_well_formed().then_some((y, m, d));
    // ISO: YYYY MM DD.
    if tokens.len() >= 3 && tokens[0].len() == 4 {
        return valid(year(&tokens[0])?, tokens[1].parse().ok()?, tokens[2].parse().ok()?);
    }
    // Day, month (number or name, possibly followed by a translation), year last.
    if tokens.len() >= 3 {
        let d: u32 = tokens[0].parse().ok()?;
        let m = tokens[1].parse().ok().or_else(|| month_name(&tokens[1]))?;
        let y = year(tokens.last()?)?;
        return valid(y, m, d);
    }
    None
}
