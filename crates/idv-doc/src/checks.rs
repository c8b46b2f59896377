//! Consistency checks, each with a name and, when it fails, a reason a person can act on.

use serde::Serialize;

use crate::fields::{Field, parse_printed_date};
use crate::mrz_read::{MrzFormat, MrzReading};
use crate::{DocClass, DocTypeSpec};

/// What a check is about: the document's own consistency, or its validity dates on the reference day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Consistency,
    Validity,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
    pub passed: bool,
    /// Empty when passed.
    pub reason: String,
}

fn check(out: &mut Vec<Check>, name: impl Into<String>, passed: bool, reason: impl FnOnce() -> String) {
    let reason = if passed { String::new() } else { reason() };
    out.push(Check { name: name.into(), kind: CheckKind::Consistency, passed, reason });
}

fn validity(out: &mut Vec<Check>, name: &str, passed: bool, reason: impl FnOnce() -> String) {
    check(out, name, passed, reason);
    if let Some(c) = out.last_mut() {
        c.kind = CheckKind::Validity;
    }
}

/// Letters and digits that OCR confuses in document numbers, folded to one form. A deliberate change of one
/// digit to another digit survives the fold.
fn fold_confusables(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' | 'Q' | 'D' => '0',
            'I' | 'L' => '1',
            'Z' => '2',
            'S' => '5',
            'G' => '6',
            'B' => '8',
            c => c,
        })
        .collect()
}

/// A printed name in MRZ encoding (transliterated, fillers for spaces and hyphens, apostrophes dropped).
fn mrz_name(s: &str) -> String {
    mrz::encode_name_component(s)
}

fn mrz_date_ymd(d: &mrz::MrzDate) -> Option<(i32, u32, u32)> {
    d.calendar().map(|c| (c.year, c.month, c.day))
}

fn fmt_ymd(d: (i32, u32, u32)) -> String {
    format!("{:04}-{:02}-{:02}", d.0, d.1, d.2)
}

pub struct Inputs<'a> {
    pub requested: &'a DocTypeSpec,
    pub mrz: Option<&'a MrzReading>,
    /// Whether this page should carry an MRZ (passport page, ID-card back).
    pub mrz_expected: bool,
    pub printed: &'a crate::fields::Printed,
    pub today: mrz::Date,
}

pub fn run(i: &Inputs<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    let today_year = i.today.year;
    if i.mrz_expected {
        check(&mut out, "mrz_present", i.mrz.is_some(), || "no machine-readable zone could be read".into());
    }
    if let Some(m) = i.mrz {
        let c = &m.data.checks;
        let digits = [
            ("mrz_check_document_number", c.document_number),
            ("mrz_check_birth_date", c.date_of_birth),
            ("mrz_check_expiry_date", c.date_of_expiry),
            ("mrz_check_personal_number", c.personal_number),
            ("mrz_check_composite", c.composite),
        ];
        for (name, v) in digits {
            if let Some(ok) = v {
                check(&mut out, name, ok, || format!("{} check digit does not match its field", &name[10..]));
            }
        }
        // Document type against the request.
        let code_ok = match i.requested.class {
            DocClass::Passport => m.data.document_type.starts_with('P'),
            DocClass::Visa => m.data.document_type.starts_with('V'),
            DocClass::IdCard | DocClass::Any => true,
        };
        let kind_ok = i.requested.formats.contains(&m.format) && code_ok;
        check(&mut out, "document_type_matches", kind_ok, || {
            format!(
                "requested {} ({}) but the MRZ is {} with document code {:?}",
                i.requested.code,
                i.requested.class.as_str(),
                m.format.as_str(),
                m.data.document_type
            )
        });
        if let Some(cc) = &i.requested.country {
            let issuer = m.data.issuing_country.trim_end_matches('<');
            check(&mut out, "issuing_country_matches_doc_type", mrz::codes_equivalent(cc, issuer), || {
                format!("requested a {cc} document but the MRZ names issuer {issuer}")
            });
        }
        for (name, code) in
            [("issuing_country_known", &m.data.issuing_country), ("nationality_known", &m.data.nationality)]
        {
            let code = code.trim_end_matches('<');
            check(&mut out, name, mrz::country_name(code).is_some(), || format!("unknown country code {code:?}"));
        }
        compare_with_printed(&mut out, m, i.printed, today_year);
    } else if let Some(cc) = &i.requested.country
        && let Some(p) = i.printed.get(&Field::IssuingCountry).or_else(|| i.printed.get(&Field::Nationality))
        && p.len() == 3
    {
        check(&mut out, "issuing_country_matches_doc_type", mrz::codes_equivalent(cc, p), || {
            format!("requested a {cc} document but the page names {p}")
        });
    }

    // Validity window: the MRZ expiry when its check digit holds, else the printed one.
    let mrz_expiry =
        i.mrz.filter(|m| m.data.checks.date_of_expiry == Some(true)).and_then(|m| mrz_date_ymd(&m.data.date_of_expiry));
    let expiry =
        mrz_expiry.or_else(|| i.printed.get(&Field::ExpiryDate).and_then(|s| parse_printed_date(s, false, today_year)));
    let today = (i.today.year, i.today.month, i.today.day);
    if let Some(e) = expiry {
        validity(&mut out, "not_expired", e >= today, || format!("document expired on {}", fmt_ymd(e)));
    }
    if let Some(issue) = i.printed.get(&Field::IssueDate).and_then(|s| parse_printed_date(s, false, today_year)) {
        validity(&mut out, "already_valid", issue <= today, || {
            format!("document is not valid before {}", fmt_ymd(issue))
        });
    }
    out
}

fn compare_with_printed(out: &mut Vec<Check>, m: &MrzReading, printed: &crate::fields::Printed, today_year: i32) {
    let d = &m.data;
    let mut cmp = |field: Field, ok: bool, mrz_v: &str, printed_v: &str| {
        check(out, format!("mrz_vs_printed_{}", field.as_str()), ok, || {
            format!("printed {} {printed_v:?} differs from the MRZ's {mrz_v:?}", field.as_str().replace('_', " "))
        });
    };
    if let Some(p) = printed.get(&Field::DocumentNumber) {
        let z = d.full_document_number().trim_end_matches('<').to_string();
        cmp(Field::DocumentNumber, fold_confusables(p) == fold_confusables(&z), &z, p);
    }
    for (field, mrz_v, is_birth) in
        [(Field::BirthDate, &d.date_of_birth, true), (Field::ExpiryDate, &d.date_of_expiry, false)]
    {
        if let Some(p) = printed.get(&field) {
            let pm = parse_printed_date(p, is_birth, today_year);
            let zm = mrz_date_ymd(mrz_v);
            let ok = match (pm, zm) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            };
            cmp(field, ok, &zm.map(fmt_ymd).unwrap_or_else(|| mrz_v.to_string()), p);
        }
    }
    if let Some(p) = printed.get(&Field::Surname) {
        let z = mrz_name(&d.surname);
        let pn = mrz_name(p);
        // The MRZ may truncate a long name; it never lengthens one.
        let ok = pn == z || (!z.is_empty() && pn.starts_with(&z) && name_field_full(m));
        cmp(Field::Surname, ok, &d.surname, p);
    }
    if let Some(p) = printed.get(&Field::GivenNames) {
        let z = mrz_name(&d.given_names);
        let pn = mrz_name(p);
        let ok = pn == z || (!z.is_empty() && pn.starts_with(&z) && name_field_full(m));
        cmp(Field::GivenNames, ok, &d.given_names, p);
    }
    if let Some(p) = printed.get(&Field::Sex) {
        let z = match d.sex {
            mrz::Sex::Male => "M",
            mrz::Sex::Female => "F",
            _ => "X",
        };
        cmp(Field::Sex, p.eq_ignore_ascii_case(z), z, p);
    }
    for (field, code) in [(Field::Nationality, &d.nationality), (Field::IssuingCountry, &d.issuing_country)] {
        if let Some(p) = printed.get(&field)
            && p.len() <= 3
        {
            let z = code.trim_end_matches('<');
            cmp(field, fold_letters(p) == z, z, p);
        }
    }
    if let Some(p) = printed.get(&Field::PersonalNumber)
        && let Some(z) = d.personal_number()
    {
        let z = z.trim_end_matches('<');
        cmp(Field::PersonalNumber, fold_confusables(p) == fold_confusables(z), z, p);
    }
}

/// Country codes are letters: a printed `0` in one is an OCR slip for `O`.
fn fold_letters(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_ascii_uppercase() {
            '0' => 'O',
            '1' => 'I',
            '5' => 'S',
            '8' => 'B',
            c => c,
        })
        .collect()
}

/// True when the MRZ's name field has no trailing filler, i.e. the name may have been truncated.
fn name_field_full(m: &MrzReading) -> bool {
    let line = match m.format {
        MrzFormat::Td1 => &m.lines[2],
        _ => &m.lines[0],
    };
    !line.ends_with('<')
}
