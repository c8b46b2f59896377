//! How `idv-flow`'s verdicts and evidence appear on the wire: CheckResult's Ext* objects, the `ocrIdInfo` keys,
//! DocOcr's ExtIdInfo. The only place that knows those names.

use base64::Engine;
use idv_flow::{
    BlobId, Comparison, Decision, DocClass, DocField, DocReading, FaceEvidence, ImageKind, LivenessCheck,
    LivenessOutcome, ModelRef, Page, SelfieAnalysis, Verdict, document_passed,
};
use serde_json::{Map, Value, json};

use crate::check_result::{CheckResultRequest, CheckResultResult};

/// The wire key of an image, and whether it sits in ExtFaceInfo (else ExtIdInfo). `None`: never returned.
pub fn image_key(kind: ImageKind) -> Option<(&'static str, bool)> {
    match kind {
        ImageKind::Selfie => Some(("faceImg", true)),
        ImageKind::DocFront => Some(("idImage", false)),
        ImageKind::DocBack => Some(("idBackImage", false)),
        ImageKind::DocPortrait => Some(("croppedFaceFromDoc", false)),
        // The merchant sent it; it is not evidence to hand back.
        ImageKind::ReferenceFace => None,
    }
}

/// Returned with IsReturnImage=Y alone; the others must also be listed in ExtraImageControlList.
fn is_default(kind: ImageKind) -> bool {
    !matches!(kind, ImageKind::DocPortrait)
}

/// The images to return for a request, by kind.
pub fn wanted_images(verdict: &Verdict, req: &CheckResultRequest) -> Vec<(ImageKind, BlobId)> {
    let Some(d) = &verdict.decision else { return Vec::new() };
    if !req.return_image {
        return Vec::new();
    }
    d.evidence
        .images()
        .into_iter()
        .filter(|(k, _)| image_key(*k).is_some() && (is_default(*k) || req.extra_images.contains(k)))
        .collect()
}

/// The wire name of a field in `ocrIdInfo`.
fn field_key(field: DocField, class: DocClass) -> &'static str {
    match field {
        DocField::DocumentNumber if class == DocClass::Passport => "passportNo",
        DocField::DocumentNumber => "idNumber",
        DocField::Surname => "surname",
        DocField::GivenNames => "givenname",
        DocField::Sex => "sex",
        DocField::BirthDate => "birthDate",
        DocField::ExpiryDate => "expiryDate",
        DocField::IssueDate => "issueDate",
        DocField::Nationality => "nationality",
        DocField::IssuingCountry => "countryCode",
        DocField::PlaceOfBirth => "placeOfBirth",
        DocField::Authority => "authority",
        DocField::PersonalNumber => "personalNo",
        DocField::Address => "address",
    }
}

/// `ocrIdInfo`: the fields under the API's keys. ID cards also get `name`, given names then surname.
pub fn ocr_id_info(r: &DocReading) -> Map<String, Value> {
    let mut o = Map::new();
    for (f, v) in &r.fields {
        o.insert(field_key(*f, r.class).to_owned(), json!(v));
    }
    if r.class == DocClass::IdCard
        && let (Some(g), Some(s)) = (r.fields.get(&DocField::GivenNames), r.fields.get(&DocField::Surname))
    {
        o.insert("name".into(), json!(format!("{g} {s}")));
    }
    o
}

fn yn(b: bool) -> &'static str {
    if b { "Y" } else { "N" }
}

/// One page's reading as ExtIdInfo shows it (also DocOcr's ExtIdInfo, before its own additions).
pub fn doc_ext_id_info(r: &DocReading) -> Map<String, Value> {
    let checks: Vec<Value> =
        r.checks.iter().map(|c| json!({"name": c.name, "passed": c.passed, "reason": c.reason})).collect();
    let mrz =
        r.mrz.as_ref().map(|m| json!({"format": m.format, "lines": m.lines, "valid": m.valid, "repairs": m.repairs}));
    let models: Vec<Value> = r.models.iter().map(|m| json!({"path": m.file, "sha256": m.sha256})).collect();
    let mut o = Map::new();
    o.insert("docType".into(), json!(r.doc_type));
    o.insert("ocrIdInfo".into(), Value::Object(ocr_id_info(r)));
    o.insert("ocrIdPassed".into(), json!(yn(r.passed())));
    o.insert("checks".into(), Value::Array(checks));
    o.insert("mrz".into(), mrz.unwrap_or(Value::Null));
    // Printed fields seen but not trusted (wrong type, low confidence, under the wrong caption): named with why, so a
    // merchant can tell "not read" from "read and consistent".
    let unread: Map<String, Value> =
        r.unread.iter().map(|(f, why)| (field_key(*f, r.class).to_owned(), json!(why))).collect();
    o.insert("unreadFields".into(), Value::Object(unread));
    o.insert("locatedBy".into(), json!(r.located_by));
    o.insert("models".into(), Value::Array(models));
    o
}

fn face_model(m: &ModelRef) -> Value {
    json!({
        "name": m.name.clone().unwrap_or_default(),
        "file": m.file,
        "sha256": m.sha256,
        "package": m.package.clone().unwrap_or_default(),
    })
}

/// The face picture and its comparison with the reference, as ExtFaceInfo shows them (a face step's, and
/// EkycVerify's, which has no liveness part).
fn face_match_info(selfie: Option<&SelfieAnalysis>, comparison: &Comparison) -> Map<String, Value> {
    let mut o = Map::new();
    if let Some(s) = selfie {
        o.insert("faceQualityScore".into(), json!(s.quality.face_quality_score));
        o.insert("sharpnessScore".into(), json!(s.quality.sharpness_score));
        o.insert("illuminationScore".into(), json!(s.quality.illumination_score));
        o.insert(
            "thresholds".into(),
            json!({
                "decision_cosine": s.thresholds.decision_cosine,
                "decision_score": s.thresholds.decision_score,
                "detector_score": s.thresholds.detector_score,
            }),
        );
        o.insert(
            "models".into(),
            json!({"detector": face_model(&s.detector), "recognizer": face_model(&s.recognizer)}),
        );
    }
    match comparison {
        Comparison::NotCompared => {}
        Comparison::ReferenceUnusable { why } => {
            o.insert("referenceFace".into(), json!(format!("unusable: {why}")));
        }
        Comparison::Compared { score, cosine, .. } => {
            o.insert("faceComparisonScore".into(), json!(score));
            o.insert("faceComparisonCosine".into(), json!(cosine));
        }
    }
    o
}

/// ExtFaceInfo of a face step.
pub fn face_info(f: &FaceEvidence) -> Map<String, Value> {
    let mut o = face_match_info(f.selfie.as_ref(), &f.comparison);
    let liveness = match &f.liveness.check {
        LivenessCheck::FramesReused => json!({"model": "challenge-response", "reasons": f.liveness.reasons}),
        LivenessCheck::Challenge { challenge, scores } => {
            json!({"model": "challenge-response", "challenge": challenge, "scores": scores})
        }
    };
    o.insert("liveness".into(), liveness);
    let live = f.liveness.outcome == LivenessOutcome::Passed;
    o.insert("faceAttack".into(), json!(yn(!live)));
    o.insert("livenessReasons".into(), json!(f.liveness.reasons));
    if !f.duplicates.is_empty() {
        // The same shape as FaceDuplicationCheckIntl's `DuplicateFace`.
        let list: Vec<Value> = f
            .duplicates
            .iter()
            .map(|d| {
                json!({"faceGroupCode": d.group_code, "faceId": d.face_id, "merchantUserId": d.merchant_user_id,
                       "score": d.score})
            })
            .collect();
        o.insert("duplicateFace".into(), Value::Array(list));
    }
    o.insert("facePassed".into(), json!(yn(f.comparison.matched() != Some(false) && live)));
    o
}

/// EkycVerify's (eKYC_MIN) ExtIdInfo and ExtFaceInfo: the document page and the face as CheckResult shows a
/// transaction's, with `ocrIdPassed` from the document part of the outcome. There is no liveness part: `faceAttack`
/// is absent rather than a claim no check supports, and `liveness` says why.
pub fn ekyc_min_ext(
    reading: &DocReading,
    document_passed: bool,
    selfie: &SelfieAnalysis,
    comparison: &Comparison,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut id = Map::new();
    id.insert("front".into(), Value::Object(doc_ext_id_info(reading)));
    id.insert("ocrIdInfo".into(), Value::Object(ocr_id_info(reading)));
    id.insert("ocrIdPassed".into(), json!(yn(document_passed)));
    let mut face = face_match_info(Some(selfie), comparison);
    face.insert(
        "liveness".into(),
        json!({"status": "NOT_PERFORMED", "reason": "one still picture cannot show a live person; use the device flow (eKYC, eKYC_PRO) for liveness"}),
    );
    face.insert("facePassed".into(), json!(yn(comparison.matched() == Some(true))));
    (id, face)
}

/// The Ext* objects of a decided verdict.
struct Ext {
    basic: Map<String, Value>,
    id: Map<String, Value>,
    face: Map<String, Value>,
}

fn decision_ext(d: &Decision) -> Ext {
    let mut ext = Ext { basic: Map::new(), id: Map::new(), face: Map::new() };
    let ev = &d.evidence;
    if d.product.needs_document() {
        let mut ocr = Map::new();
        for doc in ev.documents() {
            ocr.extend(ocr_id_info(&doc.reading));
            let page = if doc.page == Page::Back { "back" } else { "front" };
            ext.id.insert(page.into(), Value::Object(doc_ext_id_info(&doc.reading)));
        }
        let doc_ok = document_passed(ev);
        ext.id.insert("ocrIdInfo".into(), Value::Object(ocr));
        ext.id.insert("ocrIdPassed".into(), json!(yn(doc_ok)));
        if let Some(dt) = &d.doc_type {
            ext.basic.insert("docType".into(), json!(dt));
        }
    }
    if d.product.needs_face()
        && let Some(f) = &ev.face
    {
        ext.face = face_info(f);
    }
    ext
}

/// CheckResult's `Result` for a verdict. `images` are the bytes of [`wanted_images`].
pub fn check_result(verdict: &Verdict, images: &[(ImageKind, Vec<u8>)]) -> CheckResultResult {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut ext = match &verdict.decision {
        Some(d) => decision_ext(d),
        None => Ext { basic: Map::new(), id: Map::new(), face: Map::new() },
    };
    for (kind, bytes) in images {
        let Some((key, in_face)) = image_key(*kind) else { continue };
        let target = if in_face { &mut ext.face } else { &mut ext.id };
        target.insert(key.to_owned(), Value::String(b64.encode(bytes)));
    }
    let mut ext_info = Map::new();
    ext_info.insert("reasons".into(), Value::from(verdict.reasons.clone()));
    let s = |m: Map<String, Value>| Value::Object(m).to_string();
    CheckResultResult {
        passed: yn(verdict.passed).to_owned(),
        sub_code: verdict.sub_code.code().to_owned(),
        ext_basic_info: s(ext.basic),
        ext_id_info: s(ext.id),
        ext_face_info: s(ext.face),
        ext_risk_info: s(Map::new()),
        ext_info: s(ext_info),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idv_flow::{
        ChallengeRecord, CheckClass, DocCheck, DocEvidence, Evidence, LivenessEvidence, Policy, Product, SubCode,
        decide,
    };
    use std::collections::BTreeMap;

    fn reading(class: DocClass) -> DocReading {
        DocReading {
            doc_type: "GLB01001".into(),
            class,
            fields: BTreeMap::from([
                (DocField::DocumentNumber, "D23145890".to_string()),
                (DocField::Surname, "ERIKSSON".to_string()),
                (DocField::GivenNames, "ANNA MARIA".to_string()),
            ]),
            printed: Default::default(),
            unread: [(DocField::IssueDate, "\"ZENITH\" does not read as issue date".to_string())].into(),
            checks: vec![DocCheck {
                name: "mrz_present".into(),
                class: CheckClass::Consistency,
                passed: true,
                reason: String::new(),
            }],
            mrz: None,
            located_by: "frame".into(),
            models: vec![ModelRef { name: None, file: "models/det.onnx".into(), sha256: "ab".into(), package: None }],
            portrait_found: false,
            portrait_face_refined: false,
        }
    }

    #[test]
    fn ocr_keys_follow_the_document_class() {
        let card = ocr_id_info(&reading(DocClass::IdCard));
        assert_eq!(card["idNumber"], "D23145890");
        assert_eq!(card["name"], "ANNA MARIA ERIKSSON");
        assert_eq!(card["givenname"], "ANNA MARIA");
        let passport = ocr_id_info(&reading(DocClass::Passport));
        assert_eq!(passport["passportNo"], "D23145890");
        assert!(passport.get("name").is_none() && passport.get("idNumber").is_none());
        let ext = doc_ext_id_info(&reading(DocClass::Passport));
        assert_eq!(ext["ocrIdPassed"], "Y");
        assert_eq!(ext["models"], json!([{"path": "models/det.onnx", "sha256": "ab"}]));
        assert_eq!(ext["mrz"], Value::Null);
        assert_eq!(ext["unreadFields"], json!({"issueDate": "\"ZENITH\" does not read as issue date"}));
    }

    fn face(matched: bool, outcome: LivenessOutcome) -> FaceEvidence {
        FaceEvidence {
            duplicates: Vec::new(),
            image: BlobId("blob1".into()),
            selfie: None,
            comparison: Comparison::Compared { score: 12.0, cosine: 0.1, matched },
            liveness: LivenessEvidence {
                outcome,
                reasons: vec!["ok".into()],
                check: LivenessCheck::Challenge {
                    challenge: ChallengeRecord {
                        actions: vec!["blink".into()],
                        cues_ms: vec![1200],
                        colours: vec![],
                        colour_ms: 300,
                        frame_interval_ms: 100,
                        action_window_ms: 3000,
                    },
                    scores: json!({"frames": 3}),
                },
            },
        }
    }

    fn req(pairs: &[(&str, &str)]) -> CheckResultRequest {
        let mut m: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        m.insert("MerchantBizId".into(), "b1".into());
        m.insert("TransactionId".into(), "0123456789abcdef0123456789abcdef".into());
        CheckResultRequest::parse(&m).unwrap()
    }

    #[test]
    fn render_is_strings_and_images_only_on_request() {
        let ev = Evidence {
            face: Some(face(false, LivenessOutcome::Passed)),
            doc_front: Some(DocEvidence {
                page: Page::Front,
                image: BlobId("blob0".into()),
                portrait: Some(BlobId("blob2".into())),
                reading: reading(DocClass::Passport),
            }),
            doc_back: None,
        };
        let v = decide(&Policy { product: Product::Ekyc, doc_type: Some("GLB03002".into()) }, &ev);
        assert_eq!(v.sub_code, SubCode::FaceMismatch);
        assert!(wanted_images(&v, &req(&[])).is_empty());
        let kinds = |r| wanted_images(&v, &r).into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(kinds(req(&[("IsReturnImage", "Y")])), [ImageKind::DocFront, ImageKind::Selfie]);
        assert_eq!(
            kinds(req(&[("IsReturnImage", "Y"), ("ExtraImageControlList", "CROPPED_FACE_FROM_DOC")])),
            [ImageKind::DocFront, ImageKind::DocPortrait, ImageKind::Selfie]
        );
        let out = check_result(&v, &[(ImageKind::Selfie, b"jpeg".to_vec())]);
        assert_eq!((out.passed.as_str(), out.sub_code.as_str()), ("N", "204"));
        let face: Value = serde_json::from_str(&out.ext_face_info).unwrap();
        assert_eq!(face["faceComparisonScore"], 12.0);
        assert_eq!(face["faceImg"], "anBlZw==");
        assert_eq!((face["facePassed"].as_str(), face["faceAttack"].as_str()), (Some("N"), Some("N")));
        let id: Value = serde_json::from_str(&out.ext_id_info).unwrap();
        assert_eq!(id["ocrIdPassed"], "Y");
        assert_eq!(id["front"]["docType"], "GLB01001");
        let basic: Value = serde_json::from_str(&out.ext_basic_info).unwrap();
        assert_eq!(basic["docType"], "GLB03002");
        let json = serde_json::to_value(&out).unwrap();
        assert!(json.as_object().unwrap().values().all(Value::is_string));
    }

    #[test]
    fn pages_of_two_cards_are_not_a_passed_document() {
        let page = |p: Page, surname: &str| {
            let mut r = reading(DocClass::IdCard);
            r.fields.insert(DocField::Surname, surname.into());
            r.printed.insert(DocField::Surname);
            DocEvidence { page: p, image: BlobId(format!("{p:?}")), portrait: None, reading: r }
        };
        let ev = Evidence {
            doc_front: Some(page(Page::Front, "ERIKSSON")),
            doc_back: Some(page(Page::Back, "DOE")),
            face: None,
        };
        let v = decide(&Policy { product: Product::IdOcr, doc_type: Some("GLB01001".into()) }, &ev);
        assert_eq!(v.sub_code, SubCode::DocumentInvalid);
        let id: Value = serde_json::from_str(&check_result(&v, &[]).ext_id_info).unwrap();
        assert_eq!(id["ocrIdPassed"], "N", "each page passed alone, the document did not");
        assert_eq!((id["front"]["ocrIdPassed"].as_str(), id["back"]["ocrIdPassed"].as_str()), (Some("Y"), Some("Y")));
    }

    #[test]
    fn undecided_verdicts_carry_only_their_reason() {
        let v = idv_flow::timeout_verdict(idv_flow::Timeout::Expired);
        let out = check_result(&v, &[]);
        assert_eq!((out.sub_code.as_str(), out.ext_id_info.as_str(), out.ext_face_info.as_str()), ("207", "{}", "{}"));
        let info: Value = serde_json::from_str(&out.ext_info).unwrap();
        assert_eq!(info["reasons"][0], idv_flow::Timeout::Expired.reason());
        assert!(wanted_images(&v, &req(&[("IsReturnImage", "Y")])).is_empty());
    }
}
