//! Server-only eKYC (EkycVerify, EkycVerifyV2), FaceCrossCompareIntl, KeepaliveIntl and the V2 variants of the
//! served actions, with real photos: `testdata/faces` and the 55 crops of `../shared/realdata/faces`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::helpers::{
    Merchant, Reply, Server, assert_error, call, call_signed, map, no_face_b64, nonce, repo_root, start,
};

fn b64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

fn real_face(name: &str) -> PathBuf {
    repo_root().join("../shared/realdata/faces").join(name)
}

fn test_face(name: &str) -> PathBuf {
    repo_root().join("testdata/faces").join(name)
}

fn picture_b64(path: &Path) -> String {
    b64(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// A passport data page (phone-photographed) whose portrait is the picture at `portrait`.
fn passport_b64(seed: u64, portrait: &Path, tamper: idv_eval::specimen::Tamper) -> String {
    let out = tempfile::tempdir().unwrap();
    let kind = idv_eval::specimen::DocKind::Td3;
    let cmd = idv_eval::specimen::SpecimenCommand {
        distortions: vec!["phone".into()],
        tamper,
        set: vec![("portrait".into(), portrait.to_str().unwrap().into())],
        ..idv_eval::specimen::SpecimenCommand::one(out.path().to_path_buf(), repo_root(), kind, seed)
    };
    let page = idv_eval::specimen::run_command(&cmd).unwrap().remove(0);
    b64(&std::fs::read(page).unwrap())
}

async fn ekyc(s: &Server, m: &Merchant, action: &str, doc: &str, face: &str, extra: &[(&str, &str)]) -> Reply {
    let mut q = map(&[("DocType", "GLB03002"), ("ProductCode", "eKYC_MIN"), ("MerchantBizId", "ekyc1")]);
    q.extend(map(extra));
    let body = map(&[("IdOcrPictureBase64", doc), ("FacePictureBase64", face)]);
    call_signed(s, m, action, &q, &body, &nonce()).await
}

fn verdict(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 200, "{}", r.json);
    let res = &r.json["Result"];
    (res["Passed"].as_str().unwrap().to_owned(), res["SubCode"].as_str().unwrap().to_owned())
}

fn ext(r: &Reply, key: &str) -> Value {
    serde_json::from_str(r.json["Result"][key].as_str().unwrap_or_else(|| panic!("{key} in {}", r.json))).unwrap()
}

#[tokio::test]
async fn ekyc_verify_passes_the_holder_and_fails_strangers_and_tampered_documents() {
    let s = start().await;
    let m = s.merchant("A").await;
    let tamper_digit = || idv_eval::specimen::Tamper {
        wrong_check_digits: vec![idv_eval::specimen::CheckDigit::DocumentNumber],
        ..Default::default()
    };
    // Two real people (real photos, another photo of the holder each time) and one of testdata.
    for (seed, portrait, same, stranger) in [
        (71, real_face("john_simm01.jpg"), real_face("john_simm07.jpg"), real_face("john_salley03.jpg")),
        (72, real_face("john_shimkus02.jpg"), real_face("john_shimkus09.jpg"), real_face("john_savage05.jpg")),
        (73, test_face("obama.jpg"), test_face("obama2.jpg"), test_face("biden.jpg")),
    ] {
        let doc = passport_b64(seed, &portrait, Default::default());
        let who = portrait.file_name().unwrap().to_string_lossy().into_owned();
        let genuine = ekyc(&s, &m, "EkycVerify", &doc, &picture_b64(&same), &[]).await;
        assert_eq!(verdict(&genuine), ("Y".into(), "200".into()), "{who}: {}", genuine.json);
        let (id, face) = (ext(&genuine, "ExtIdInfo"), ext(&genuine, "ExtFaceInfo"));
        assert_eq!(id["ocrIdPassed"], "Y", "{id}");
        assert!(id["ocrIdInfo"]["passportNo"].as_str().is_some_and(|n| !n.is_empty()), "{id}");
        assert_eq!(id["front"]["docType"], "GLB03002");
        assert_eq!(face["facePassed"], "Y");
        assert!(face["faceComparisonScore"].as_f64().unwrap() >= 70.0, "{who}: {face}");
        assert!(face.get("faceAttack").is_none(), "no liveness claim from one picture: {face}");
        assert_eq!(face["liveness"]["status"], "NOT_PERFORMED");

        let number = id["ocrIdInfo"]["passportNo"].as_str().unwrap().to_owned();
        let name = format!(
            "{} {}",
            id["ocrIdInfo"]["givenname"].as_str().unwrap(),
            id["ocrIdInfo"]["surname"].as_str().unwrap()
        );
        let claimed =
            ekyc(&s, &m, "EkycVerify", &doc, &picture_b64(&same), &[("DocNo", &number), ("DocName", &name)]).await;
        assert_eq!(verdict(&claimed), ("Y".into(), "200".into()), "{who}: {}", claimed.json);

        let other = ekyc(&s, &m, "EkycVerify", &doc, &picture_b64(&stranger), &[]).await;
        assert_eq!(verdict(&other), ("N".into(), "204".into()), "{who}: {}", other.json);
        let face = ext(&other, "ExtFaceInfo");
        assert_eq!(face["facePassed"], "N");
        assert!(face["faceComparisonScore"].as_f64().unwrap() < 70.0, "{who}: {face}");
        assert_eq!(ext(&other, "ExtIdInfo")["ocrIdPassed"], "Y", "the document itself was fine");

        let tampered = passport_b64(seed + 100, &portrait, tamper_digit());
        let bad = ekyc(&s, &m, "EkycVerify", &tampered, &picture_b64(&same), &[]).await;
        assert_eq!(verdict(&bad), ("N".into(), "201".into()), "{who}: {}", bad.json);
        assert_eq!(ext(&bad, "ExtIdInfo")["ocrIdPassed"], "N");
        assert!(ext(&bad, "ExtInfo")["reasons"].to_string().contains("mrz_check_document_number"), "{}", bad.json);

        let wrong_no = ekyc(&s, &m, "EkycVerify", &doc, &picture_b64(&same), &[("DocNo", "X0000000")]).await;
        assert_eq!(verdict(&wrong_no), ("N".into(), "201".into()), "{}", wrong_no.json);
        assert!(ext(&wrong_no, "ExtInfo")["reasons"].to_string().contains("DocNo"), "{}", wrong_no.json);
        let wrong_name = ekyc(&s, &m, "EkycVerify", &doc, &picture_b64(&same), &[("DocName", "NOBODY ATALL")]).await;
        assert_eq!(verdict(&wrong_name), ("N".into(), "201".into()), "{}", wrong_name.json);
    }
    s.stop().await;
}

#[tokio::test]
async fn ekyc_verify_refuses_what_it_cannot_check_by_name() {
    let s = start().await;
    let m = s.merchant("A").await;
    let doc = passport_b64(74, &test_face("obama.jpg"), Default::default());
    let face = picture_b64(&test_face("obama3.jpg"));
    for (k, v) in [("Authorize", "T"), ("IdSpoof", "Y"), ("ProductCode", "eKYC_PRO"), ("DocType", "00000001")] {
        let r = ekyc(&s, &m, "EkycVerify", &doc, &face, &[(k, v)]).await;
        assert_error(&r, 400, "InvalidParameter");
        assert!(r.json["Message"].as_str().unwrap().contains(k), "{k}: {}", r.json);
    }
    let q = map(&[("DocType", "GLB03002"), ("FacePictureUrl", "https://x.example/f.jpg")]);
    let r = call_signed(&s, &m, "EkycVerify", &q, &map(&[("IdOcrPictureBase64", doc.as_str())]), &nonce()).await;
    assert_error(&r, 400, "InvalidParameter");
    assert!(r.json["Message"].as_str().unwrap().contains("FacePictureUrl"), "{}", r.json);
    assert_error(&ekyc(&s, &m, "EkycVerify", &doc, &no_face_b64(), &[]).await, 401, "NoFaceDetected");
    assert_error(&ekyc(&s, &m, "EkycVerify", &no_face_b64(), &face, &[]).await, 401, "UnqualifiedPhoto");
    // V2: the same call, and its file fields (OSS objects of the SDK's *Advance methods) refused by name.
    let r = ekyc(&s, &m, "EkycVerifyV2", &doc, &face, &[]).await;
    assert_eq!(verdict(&r), ("Y".into(), "200".into()), "{}", r.json);
    let q = map(&[("DocType", "GLB03002")]);
    let body = map(&[("IdOcrPictureFile", "http://bucket.oss.example/obj"), ("FacePictureBase64", face.as_str())]);
    let r = call_signed(&s, &m, "EkycVerifyV2", &q, &body, &nonce()).await;
    assert_error(&r, 400, "InvalidParameter");
    assert!(r.json["Message"].as_str().unwrap().contains("IdOcrPictureFile"), "{}", r.json);
    s.stop().await;
}

/// FaceQualityCheck=Y fails a face picture with quality issues (209), naming them; without it they are reported only.
#[tokio::test]
async fn face_quality_check_fails_a_poor_face_picture() {
    let s = start().await;
    let m = s.merchant("A").await;
    let doc = passport_b64(76, &test_face("obama.jpg"), Default::default());
    let mut dark = image::open(test_face("obama2.jpg")).unwrap().to_rgb8();
    dark.pixels_mut().for_each(|p| p.0 = p.0.map(|c| (f32::from(c) * 0.3) as u8));
    let mut out = std::io::Cursor::new(Vec::new());
    dark.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    let dark = b64(&out.into_inner());
    let r = ekyc(&s, &m, "EkycVerify", &doc, &dark, &[("FaceQualityCheck", "Y")]).await;
    assert_eq!(verdict(&r), ("N".into(), "209".into()), "{}", r.json);
    assert!(ext(&r, "ExtInfo")["reasons"].to_string().contains("TooDark"), "{}", r.json);
    let r = ekyc(&s, &m, "EkycVerify", &doc, &dark, &[]).await;
    assert_eq!(verdict(&r), ("Y".into(), "200".into()), "{}", r.json);
    s.stop().await;
}

async fn cross(s: &Server, m: &Merchant, faces: &[&Path], extra: &[(&str, &str)]) -> Reply {
    let mut q = map(&[("ProductCode", "FACE_CROSS_COMPARE"), ("MerchantBizId", "cross1")]);
    q.extend(map(extra));
    let names = ["SourceAFacePicture", "SourceBFacePicture", "SourceCFacePicture"];
    let pics: Vec<(String, String)> = faces.iter().zip(names).map(|(f, n)| (n.to_owned(), picture_b64(f))).collect();
    call_signed(s, m, "FaceCrossCompareIntl", &q, &pics.into_iter().collect(), &nonce()).await
}

fn score(r: &Reply, pair: &str) -> f64 {
    r.json["Result"][format!("FaceComparisonScore{pair}")].as_f64().unwrap_or_else(|| panic!("{pair}: {}", r.json))
}

#[tokio::test]
async fn cross_compare_scores_every_pair_against_the_threshold() {
    let s = start().await;
    let m = s.merchant("A").await;
    let people = ["john_salley", "john_savage", "john_schneider", "john_shimkus", "john_simm"];
    for p in people {
        let [a, b, c] = ["02", "05", "10"].map(|n| real_face(&format!("{p}{n}.jpg")));
        let r = cross(&s, &m, &[&a, &b, &c], &[]).await;
        assert_eq!(r.status, 200, "{}", r.json);
        for pair in ["A2B", "B2C", "C2A"] {
            assert!(score(&r, pair) >= 70.0, "{p} {pair}: {}", r.json);
        }
        assert_eq!(r.json["Result"]["FacePassed"], "Y", "{p}: {}", r.json);
    }
    // Strangers: one person's photo among two of another, and two strangers alone.
    let (a, b) = (real_face("john_simm03.jpg"), real_face("john_simm08.jpg"));
    let stranger = real_face("john_schneider04.jpg");
    let r = cross(&s, &m, &[&a, &b, &stranger], &[]).await;
    assert!(score(&r, "A2B") >= 70.0 && score(&r, "B2C") < 70.0 && score(&r, "C2A") < 70.0, "{}", r.json);
    assert_eq!(r.json["Result"]["FacePassed"], "N", "{}", r.json);
    let r = cross(&s, &m, &[&a, &stranger], &[]).await;
    assert!(score(&r, "A2B") < 70.0, "{}", r.json);
    assert!(r.json["Result"].get("FaceComparisonScoreB2C").is_none(), "{}", r.json);
    assert_eq!(r.json["Result"]["FacePassed"], "N");
    // The merchant's threshold decides: above the same-person score nothing passes, a low one lets strangers pass.
    let same = cross(&s, &m, &[&a, &b], &[]).await;
    let above = format!("{:.2}", (score(&same, "A2B") + 1.0).min(100.0));
    assert_eq!(cross(&s, &m, &[&a, &b], &[("FaceVerifyThreshold", &above)]).await.json["Result"]["FacePassed"], "N");
    let r = cross(&s, &m, &[&a, &stranger], &[("FaceVerifyThreshold", "1")]).await;
    assert_eq!(r.json["Result"]["FacePassed"], "Y", "{}", r.json);
    for (k, v) in [("FaceVerifyThreshold", "0.5"), ("CompareModel", "2"), ("ProductCode", "FACE_COMPARE")] {
        let r = cross(&s, &m, &[&a, &b], &[(k, v)]).await;
        assert_error(&r, 400, "InvalidParameter");
        assert!(r.json["Message"].as_str().unwrap().contains(k), "{}", r.json);
    }
    let r = cross(&s, &m, &[&a], &[]).await;
    assert_error(&r, 400, "MissingParameter");
    assert!(r.json["Message"].as_str().unwrap().contains("SourceBFacePicture"), "{}", r.json);
    let grey = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        grey.path(),
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, no_face_b64()).unwrap(),
    )
    .unwrap();
    let r = cross(&s, &m, &[&a, grey.path()], &[]).await;
    assert_error(&r, 401, "NoFaceDetected");
    assert!(r.json["Message"].as_str().unwrap().contains("SourceBFacePicture"), "{}", r.json);
    s.stop().await;
}

#[tokio::test]
async fn keepalive_and_v2_variants_answer_like_their_first_versions() {
    let s = start().await;
    let m = s.merchant("A").await;
    let r = call(&s, &m, "KeepaliveIntl", &[]).await;
    assert_eq!((r.status, &r.json["Result"]["Result"]), (200, &Value::from("SUCCESS")), "{}", r.json);

    let (o1, o2) = (picture_b64(&test_face("obama.jpg")), picture_b64(&test_face("obama2.jpg")));
    let body = map(&[("SourceFacePicture", o1.as_str()), ("TargetFacePicture", o2.as_str())]);
    let r = call_signed(&s, &m, "FaceCompareV2", &map(&[("MerchantBizId", "v2a")]), &body, &nonce()).await;
    assert_eq!(r.json["Result"]["Passed"], "Y", "{}", r.json);
    let body = map(&[("SourceFacePictureFile", "http://b.oss.example/k"), ("TargetFacePicture", o2.as_str())]);
    let r = call_signed(&s, &m, "FaceCompareV2", &map(&[]), &body, &nonce()).await;
    assert_error(&r, 400, "InvalidParameter");
    assert!(r.json["Message"].as_str().unwrap().contains("SourceFacePictureFile"), "{}", r.json);

    let q = map(&[("ProductCode", "FACE_LIVENESS_MIN_PRO")]);
    let r = call_signed(&s, &m, "FaceLivenessV2", &q, &map(&[("FacePictureBase64", o1.as_str())]), &nonce()).await;
    assert_eq!((r.json["Result"]["Passed"].as_str(), r.json["Result"]["SubCode"].as_str()), (Some("N"), Some("210")));
    let q = map(&[("ProductCode", "FACE_LIVENESS_MIN_PRO"), ("FacePictureFile", "http://b.oss.example/k")]);
    let r = call_signed(&s, &m, "FaceLivenessV2", &q, &map(&[]), &nonce()).await;
    assert!(r.json["Message"].as_str().unwrap().contains("FacePictureFile"), "{}", r.json);

    let doc = passport_b64(75, &test_face("obama.jpg"), Default::default());
    let q = map(&[("DocType", "GLB03002"), ("ProductCode", "ID_OCR_MIN")]);
    let r = call_signed(&s, &m, "DocOcrV2", &q, &map(&[("IdOcrPictureBase64", doc.as_str())]), &nonce()).await;
    assert_eq!(r.json["Result"]["Passed"], "Y", "{}", r.json);
    let r =
        call_signed(&s, &m, "DocOcrV2", &q, &map(&[("IdOcrPictureFile", "http://b.oss.example/k")]), &nonce()).await;
    assert!(r.json["Message"].as_str().unwrap().contains("IdOcrPictureFile"), "{}", r.json);

    let init = crate::helpers::init_params("eKYC", crate::helpers::META_ANDROID);
    let r = call(&s, &m, "InitializeV2", &init).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let tid = r.json["Result"]["TransactionId"].as_str().unwrap().to_owned();
    let c = call(&s, &m, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    assert_error(&c, 404, "ProcessNotCompleted");
    let mut with_file = init.clone();
    with_file.push(("TargetFacePictureFile", "http://b.oss.example/k"));
    let r = call(&s, &m, "InitializeV2", &with_file).await;
    assert_error(&r, 400, "InvalidParameter");
    assert!(r.json["Message"].as_str().unwrap().contains("TargetFacePictureFile"), "{}", r.json);
    s.stop().await;
}
