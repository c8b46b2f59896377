//! The one decision policy: how evidence becomes a verdict, and the verdicts of flows that end without a
//! decision (timeout, cancellation, retakes exhausted). Every SubCode idv gives is chosen in this file.

use serde::{Deserialize, Serialize};

use crate::evidence::{CheckClass, Comparison, DocCheck, DocField, DocReading, Evidence, LivenessOutcome};
use crate::product::{Product, Step};
use crate::retake::RetakeReason;

/// Result SubCodes (`docs/subcodes.md` is the merchant-facing table). The international SubCode table is not
/// public; `200` and `205` are confirmed values, the rest follow the sister product's table where it has an
/// equivalent and are idv's own otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubCode {
    /// Every check passed.
    Passed,
    /// The document failed a check: unreadable MRZ, wrong check digit, MRZ and printed fields disagree, wrong type.
    DocumentInvalid,
    /// The document is expired or not yet valid (and nothing else is wrong with it).
    DocumentExpired,
    /// No usable document portrait or reference face to compare against.
    NoReferenceFace,
    /// The selfie does not match the document portrait / reference face.
    FaceMismatch,
    /// Liveness failed or an attack was detected.
    LivenessFailed,
    /// The transaction expired (30 minutes, or the device went quiet) before the flow completed.
    TimedOut,
    /// The user cancelled the flow on the device.
    Cancelled,
    /// Captured images were unusable after the allowed retakes.
    PoorQuality,
    /// The requested check cannot be performed on this server (e.g. passive liveness from one picture): not a
    /// pass, not an attack.
    CheckUnavailable,
    /// The face is already registered in the merchant's face library under another user (1:N duplicate search).
    DuplicateFace,
}

impl SubCode {
    pub const ALL: [SubCode; 11] = [
        SubCode::Passed,
        SubCode::DocumentInvalid,
        SubCode::DocumentExpired,
        SubCode::NoReferenceFace,
        SubCode::FaceMismatch,
        SubCode::LivenessFailed,
        SubCode::TimedOut,
        SubCode::Cancelled,
        SubCode::PoorQuality,
        SubCode::CheckUnavailable,
        SubCode::DuplicateFace,
    ];

    /// The wire code.
    pub fn code(self) -> &'static str {
        match self {
            SubCode::Passed => "200",
            SubCode::DocumentInvalid => "201",
            SubCode::DocumentExpired => "202",
            SubCode::NoReferenceFace => "203",
            SubCode::FaceMismatch => "204",
            SubCode::LivenessFailed => "205",
            SubCode::TimedOut => "207",
            SubCode::Cancelled => "208",
            SubCode::PoorQuality => "209",
            SubCode::CheckUnavailable => "210",
            SubCode::DuplicateFace => "211",
        }
    }

    pub fn from_code(code: &str) -> Option<SubCode> {
        SubCode::ALL.into_iter().find(|s| s.code() == code)
    }
}

impl Serialize for SubCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for SubCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SubCode::from_code(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown SubCode {s:?}")))
    }
}

/// What the policy needs to know of the merchant's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub product: Product,
    /// The DocType code asked for, for the record.
    pub doc_type: Option<String>,
}

/// The evidence a decision was taken on, kept with the verdict so it can be rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub product: Product,
    pub doc_type: Option<String>,
    pub evidence: Evidence,
}

/// The stored outcome of a finished transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub passed: bool,
    pub sub_code: SubCode,
    /// Human-readable reasons behind the verdict.
    pub reasons: Vec<String>,
    /// `None` for flows that ended without a decision (timeout, cancellation, retakes exhausted).
    pub decision: Option<Decision>,
}

impl Verdict {
    /// A failure with no evidence beyond its reason.
    pub fn failed(sub_code: SubCode, reason: impl Into<String>) -> Verdict {
        Verdict { passed: false, sub_code, reasons: vec![reason.into()], decision: None }
    }
}

/// The one document SubCode rule, for eKYC and DocOcr alike: `None` when no check failed; `DocumentExpired`
/// when the only failures are validity dates (the document is otherwise sound, so the merchant can ask for a
/// current one); `DocumentInvalid` as soon as any other check failed.
pub fn document_sub_code<'a>(checks: impl IntoIterator<Item = &'a DocCheck>) -> Option<SubCode> {
    let mut worst = None;
    for c in checks.into_iter().filter(|c| !c.passed) {
        match c.class {
            CheckClass::Consistency => return Some(SubCode::DocumentInvalid),
            CheckClass::Validity => worst = Some(SubCode::DocumentExpired),
        }
    }
    worst
}

/// What a one-picture document read (DocOcr) must show beyond the consistency checks, which always apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocRequirement {
    /// A portrait was found on the page.
    Portrait,
    /// The face detector confirmed the portrait, and every core printed field was read.
    Complete,
    /// The consistency checks only.
    ChecksOnly,
}

/// The outcome of a one-picture document read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocOutcome {
    pub passed: bool,
    pub sub_code: SubCode,
    pub reasons: Vec<String>,
}

/// The printed fields [`DocRequirement::Complete`] needs on a portrait page.
const CORE_PRINTED: [DocField; 5] =
    [DocField::Surname, DocField::GivenNames, DocField::DocumentNumber, DocField::BirthDate, DocField::ExpiryDate];

/// Decides a one-picture document read (DocOcr). `back_side`: the picture is a card's back, which carries no
/// portrait and no printed identity. `label` names the requirement in the reasons (the merchant's own term).
pub fn read_document(reading: &DocReading, requirement: DocRequirement, back_side: bool, label: &str) -> DocOutcome {
    let mut reasons: Vec<String> = reading.failed_checks().map(|c| format!("{}: {}", c.name, c.reason)).collect();
    match requirement {
        DocRequirement::Portrait if !back_side && !reading.portrait_found => {
            reasons.push(format!("{label}: no portrait was found on the document"));
        }
        DocRequirement::Complete if !back_side => {
            if !reading.portrait_face_refined {
                reasons.push(format!("{label}: the portrait was not confirmed by the face detector"));
            }
            for f in CORE_PRINTED {
                if !reading.printed.contains(&f) {
                    reasons.push(format!("{label}: printed field {} was not read", f.as_str()));
                }
            }
        }
        _ => {}
    }
    let passed = reasons.is_empty() && reading.passed();
    let sub_code = if passed {
        SubCode::Passed
    } else {
        // A requirement not met (or no check at all) is a document that could not be verified.
        document_sub_code(&reading.checks).unwrap_or(SubCode::DocumentInvalid)
    };
    DocOutcome { passed, sub_code, reasons }
}

/// What the merchant says the document shows (EkycVerify's `DocName`, `DocNo`), to be compared with the reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimedIdentity {
    /// The full name, in either order (given names then surname, or surname first).
    pub name: Option<String>,
    pub number: Option<String>,
}

/// Why the reading does not show the claimed identity, one reason per field that differs or was not read. Names
/// are compared as [`pages_disagree`] compares them (transliterated, letters only); values are not repeated.
fn claim_mismatches(reading: &DocReading, claimed: &ClaimedIdentity) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(number) = &claimed.number {
        match reading.fields.get(&DocField::DocumentNumber) {
            None => out.push("DocNo: the document number was not read from the document".into()),
            Some(read) if document_number(read) != document_number(number) => {
                out.push("DocNo: differs from the document number read from the document".into())
            }
            Some(_) => {}
        }
    }
    if let Some(name) = &claimed.name {
        let (given, surname) = (reading.fields.get(&DocField::GivenNames), reading.fields.get(&DocField::Surname));
        let orders = match (given, surname) {
            (Some(g), Some(s)) => vec![format!("{g} {s}"), format!("{s} {g}")],
            (None, Some(one)) | (Some(one), None) => vec![one.clone()],
            (None, None) => vec![],
        };
        let read: Vec<String> = orders.iter().filter_map(|n| name_forms(n)).flatten().collect();
        match name_forms(name) {
            _ if read.is_empty() => out.push("DocName: the name was not read from the document".into()),
            Some(forms) if forms.iter().any(|f| read.contains(f)) => {}
            _ => out.push("DocName: differs from the name read from the document".into()),
        }
    }
    out
}

/// Decides a server-only eKYC (eKYC_MIN): one document picture, decided as [`read_document`] decides it and held
/// to the identity the merchant claims, and one face picture compared with the document's portrait. One still
/// picture shows nothing about liveness, so no liveness claim is made either way (the reasons say so). The
/// SubCode names the first failure in [`decide`]'s order: document, reference, face match, then the face
/// picture's quality (`face_issues`, only when the merchant asked for the quality check).
pub fn decide_document_face(
    document: DocOutcome,
    reading: &DocReading,
    claimed: &ClaimedIdentity,
    comparison: &Comparison,
    face_issues: &[String],
) -> DocOutcome {
    let mut reasons = document.reasons;
    let mut failures = Vec::new();
    if !document.passed {
        failures.push(document.sub_code);
    }
    let mismatches = claim_mismatches(reading, claimed);
    if !mismatches.is_empty() {
        reasons.extend(mismatches);
        failures.push(SubCode::DocumentInvalid);
    }
    match comparison {
        Comparison::NotCompared => {
            reasons.push("no portrait could be cut from the document to compare with".into());
            failures.push(SubCode::NoReferenceFace);
        }
        Comparison::ReferenceUnusable { why } => {
            reasons.push(format!("no face could be analysed in the document portrait: {why}"));
            failures.push(SubCode::NoReferenceFace);
        }
        Comparison::Compared { matched: false, .. } => {
            reasons.push("the face does not match the document portrait".into());
            failures.push(SubCode::FaceMismatch);
        }
        Comparison::Compared { matched: true, .. } => {}
    }
    if !face_issues.is_empty() {
        reasons.extend(face_issues.iter().map(|i| format!("face picture quality: {i}")));
        failures.push(SubCode::PoorQuality);
    }
    let passed = failures.is_empty();
    if passed {
        reasons.push("every check passed".into());
    }
    reasons.push("liveness: not checked (one still picture cannot show a live person)".into());
    DocOutcome { passed, sub_code: failures.first().copied().unwrap_or(SubCode::Passed), reasons }
}

/// The identity fields a card's two pages must agree on. Each page is checked alone by the engine, so without this
/// the front of one card and the back of another would pass together, the back's MRZ fields replacing the front's.
const CROSS_PAGE: [DocField; 4] =
    [DocField::Surname, DocField::GivenNames, DocField::DocumentNumber, DocField::BirthDate];

/// Why a card's front and back are not the same document, or `None` when they agree. The front's printed fields
/// are compared with the back's (its MRZ's where it has one), tolerating what the MRZ legitimately changes: names
/// are compared transliterated, without case, spaces, `<` fillers or punctuation, and the back's may be a
/// truncation of the front's; the document number (ignoring case, spaces and `-`) and the birth date must be
/// equal. A pair with no field to compare fails too: an unreadable front would otherwise be a way round the rule.
/// The reason names the fields, not their values (the values are in each page's reading).
fn pages_disagree(front: &DocReading, back: &DocReading) -> Option<String> {
    let mut compared = 0;
    let mut differ = Vec::new();
    for field in CROSS_PAGE {
        let (Some(f), Some(b)) =
            (front.fields.get(&field).filter(|_| front.printed.contains(&field)), back.fields.get(&field))
        else {
            continue;
        };
        let agree = match field {
            DocField::Surname | DocField::GivenNames => {
                let (Some(f), Some(b)) = (name_forms(f), name_forms(b)) else { continue };
                // The back's may be truncated; it is never longer. Either transliteration of the front may be the
                // one the issuer used.
                let back = &b[0];
                f.iter().any(|f| f.starts_with(back.as_str()))
            }
            DocField::DocumentNumber => document_number(f) == document_number(b),
            _ => f.trim() == b.trim(),
        };
        compared += 1;
        if !agree {
            differ.push(field.as_str());
        }
    }
    if compared == 0 {
        return Some(
            "document pages: no identity field of the front (name, document number, birth date) could be compared \
             with the back"
                .into(),
        );
    }
    (!differ.is_empty()).then(|| {
        format!(
            "document pages disagree: the front's {} differ from the back's MRZ (the pages are not of one document)",
            differ.join(", ")
        )
    })
}

/// A document number without formatting: upper case, no spaces, `-` or `<` fillers.
fn document_number(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, ' ' | '-' | '<')).flat_map(char::to_uppercase).collect()
}

/// A name the way an MRZ spells it, letters only (`A`–`Z`, no separators): the common transliteration (`Ä` → `A`)
/// first, then ICAO 9303's recommended one (`Ä` → `AE`, `Å` → `AA`, `Ö`/`Ø` → `OE`, `Ü` → `UE`, `Ñ` → `NXX`) when it
/// differs. `None` when no letter survives (a name in a script the MRZ cannot spell is not compared).
fn name_forms(s: &str) -> Option<Vec<String>> {
    let spell = |icao: bool| -> String {
        let mut out = String::new();
        for c in s.chars().flat_map(char::to_uppercase) {
            match (c, icao) {
                ('A'..='Z', _) => out.push(c),
                ('Ä' | 'Æ', true) | ('Æ', false) => out.push_str("AE"),
                ('Å', true) => out.push_str("AA"),
                ('Ö' | 'Ø' | 'Œ', true) | ('Œ', false) => out.push_str("OE"),
                ('Ü', true) => out.push_str("UE"),
                ('Ñ', true) => out.push_str("NXX"),
                ('ß', _) => out.push_str("SS"),
                ('Þ', _) => out.push_str("TH"),
                ('Ĳ', _) => out.push_str("IJ"),
                _ => {
                    if let Some(base) = latin_base(c) {
                        out.push(base);
                    }
                }
            }
        }
        out
    };
    let common = spell(false);
    if common.is_empty() {
        return None;
    }
    let icao = spell(true);
    Some(if icao == common { vec![common] } else { vec![common, icao] })
}

/// The base letter of an accented Latin capital; `None` for anything else (separators, fillers, other scripts).
fn latin_base(c: char) -> Option<char> {
    const TABLE: [(&str, char); 26] = [
        ("ÀÁÂÃÄÅĀĂĄ", 'A'),
        ("", 'B'),
        ("ÇĆĈĊČ", 'C'),
        ("ÐĎĐ", 'D'),
        ("ÈÉÊËĒĔĖĘĚ", 'E'),
        ("", 'F'),
        ("ĜĞĠĢ", 'G'),
        ("ĤĦ", 'H'),
        ("ÌÍÎÏĨĪĬĮİ", 'I'),
        ("Ĵ", 'J'),
        ("Ķ", 'K'),
        ("ĹĻĽĿŁ", 'L'),
        ("", 'M'),
        ("ÑŃŅŇ", 'N'),
        ("ÒÓÔÕÖØŌŎŐ", 'O'),
        ("", 'P'),
        ("", 'Q'),
        ("ŔŖŘ", 'R'),
        ("ŚŜŞŠȘ", 'S'),
        ("ŢŤŦȚ", 'T'),
        ("ÙÚÛÜŨŪŬŮŰŲ", 'U'),
        ("", 'V'),
        ("Ŵ", 'W'),
        ("", 'X'),
        ("ÝŶŸ", 'Y'),
        ("ŹŻŽ", 'Z'),
    ];
    TABLE.iter().find(|(accented, _)| accented.contains(c)).map(|(_, base)| *base)
}

/// The document part of the evidence passed: a front page was accepted, no check of any page failed, and a card's
/// two pages are of one document. `ExtIdInfo.ocrIdPassed` says this, and [`decide`] fails on the same grounds.
pub fn document_passed(evidence: &Evidence) -> bool {
    let pages_agree = match (&evidence.doc_front, &evidence.doc_back) {
        (Some(front), Some(back)) => pages_disagree(&front.reading, &back.reading).is_none(),
        _ => true,
    };
    evidence.doc_front.is_some()
        && pages_agree
        && document_sub_code(evidence.documents().flat_map(|d| &d.reading.checks)).is_none()
}

/// Combines the evidence into the verdict. Every failed check contributes a reason; the SubCode names the first
/// failure in the order a merchant would act on it: document, reference, face match, liveness.
pub fn decide(policy: &Policy, evidence: &Evidence) -> Verdict {
    let mut reasons = Vec::new();
    let mut failures: Vec<SubCode> = Vec::new();
    let product = policy.product;
    if product.needs_document() {
        for d in evidence.documents() {
            let page = match d.page {
                crate::Page::Front => "front",
                crate::Page::Back => "back",
            };
            for c in d.reading.failed_checks() {
                reasons.push(format!("document {page}: {}: {}", c.name, c.reason));
            }
        }
        if let Some(code) = document_sub_code(evidence.documents().flat_map(|d| &d.reading.checks)) {
            failures.push(code);
        }
        if let (Some(front), Some(back)) = (&evidence.doc_front, &evidence.doc_back)
            && let Some(reason) = pages_disagree(&front.reading, &back.reading)
        {
            reasons.push(reason);
            failures.push(SubCode::DocumentInvalid);
        }
        if evidence.doc_front.is_none() {
            reasons.push("no document page was accepted".into());
            failures.push(SubCode::DocumentInvalid);
        }
    }
    if product.needs_face() {
        match &evidence.face {
            None => {
                reasons.push("no face step was accepted".into());
                failures.push(SubCode::LivenessFailed);
            }
            Some(f) => {
                match f.comparison.matched() {
                    Some(true) => {}
                    Some(false) => {
                        reasons.push("the face does not match the reference portrait".into());
                        failures.push(SubCode::FaceMismatch);
                    }
                    None if product.needs_document() => {
                        reasons.push("no portrait could be cut from the document to compare with".into());
                        failures.push(SubCode::NoReferenceFace);
                    }
                    None => {}
                }
                if f.liveness.outcome == LivenessOutcome::Attack {
                    reasons.extend(f.liveness.reasons.iter().map(|r| format!("liveness: {r}")));
                    failures.push(SubCode::LivenessFailed);
                }
                if let Some(d) = f.duplicates.first() {
                    // The user is named by the library's own id, which is the merchant's; nothing else about them.
                    reasons.push(format!(
                        "the face is already registered in face group {} under another user ({}, score {:.2})",
                        d.group_code, d.merchant_user_id, d.score
                    ));
                    failures.push(SubCode::DuplicateFace);
                }
            }
        }
    }
    let passed = failures.is_empty();
    if passed {
        reasons.push("every check passed".into());
    }
    Verdict {
        passed,
        sub_code: failures.first().copied().unwrap_or(SubCode::Passed),
        reasons,
        decision: Some(Decision { product, doc_type: policy.doc_type.clone(), evidence: evidence.clone() }),
    }
}

/// Why a flow ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// The transaction's hard expiry passed before the device started.
    BeforeStart,
    /// The transaction's hard expiry passed before the flow completed.
    Expired,
    /// The device went quiet for longer than the idle timeout.
    Idle,
}

impl Timeout {
    pub fn reason(self) -> &'static str {
        match self {
            Timeout::BeforeStart => "the transaction expired before the device started",
            Timeout::Expired => "the transaction expired before the verification flow completed",
            Timeout::Idle => "the device went quiet for longer than the idle timeout",
        }
    }
}

/// Is a transaction overdue at `now`? `last_activity` is the device session's last round, if one started.
pub fn timed_out(now: i64, expires_at: i64, last_activity: Option<i64>, idle_timeout_s: i64) -> Option<Timeout> {
    if now >= expires_at {
        return Some(Timeout::Expired);
    }
    if last_activity.is_some_and(|t| now - t > idle_timeout_s) {
        return Some(Timeout::Idle);
    }
    None
}

pub fn timeout_verdict(why: Timeout) -> Verdict {
    Verdict::failed(SubCode::TimedOut, why.reason())
}

pub fn cancelled() -> Verdict {
    Verdict::failed(SubCode::Cancelled, "the user cancelled the flow on the device")
}

/// The verdict when a step stayed unusable through every attempt: a capture the liveness check kept rejecting
/// is a liveness failure, any other an image-quality failure.
pub fn attempts_exhausted(step: Step, attempts: u32, reason: RetakeReason, detail: &str) -> Verdict {
    let why = format!("{step:?}: still unusable after {attempts} attempts ({detail})");
    let sub = if reason.is_liveness() { SubCode::LivenessFailed } else { SubCode::PoorQuality };
    Verdict::failed(sub, why)
}

/// What a face-library search (FaceVerifyIntl, FaceDuplicationCheckIntl) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceSearch {
    /// `FaceQualityCheck=Y` and the picture has quality issues.
    PoorQuality,
    /// A 1:1 verification against a user who has no registered face.
    NoReference,
    /// The face matched what it was compared with (1:1), or was found in the groups (1:N identification).
    Matched,
    /// It did not.
    NotMatched,
    /// Duplicate check: no other user's face matches.
    Unique,
    /// Duplicate check: another user's face matches.
    Duplicate,
}

/// FacePassed and SubCode of a face-library search: one place, like every other SubCode.
pub fn face_search(outcome: FaceSearch) -> (bool, SubCode) {
    match outcome {
        FaceSearch::PoorQuality => (false, SubCode::PoorQuality),
        FaceSearch::NoReference => (false, SubCode::NoReferenceFace),
        FaceSearch::Matched | FaceSearch::Unique => (true, SubCode::Passed),
        FaceSearch::NotMatched => (false, SubCode::FaceMismatch),
        FaceSearch::Duplicate => (false, SubCode::DuplicateFace),
    }
}
