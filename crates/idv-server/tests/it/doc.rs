//! DocOcr: a document page read and checked in one call.

use serde_json::Value;

use crate::helpers::{
    Merchant, Reply, Server, assert_error, call_signed, map, no_face_b64, nonce, specimen_b64, specimen_kind_b64, start,
};

async fn doc_ocr(s: &Server, m: &Merchant, picture: &str, extra: &[(&str, &str)]) -> Reply {
    let mut q = map(&[("DocType", "GLB03002"), ("ProductCode", "ID_OCR_MIN"), ("MerchantBizId", "ocr1")]);
    q.extend(map(extra));
    call_signed(s, m, "DocOcr", &q, &map(&[("IdOcrPictureBase64", picture)]), &nonce()).await
}

#[tokio::test]
async fn doc_ocr_reads_checks_and_names_what_failed() {
    let s = start().await;
    let m = s.merchant("A").await;
    let valid = doc_ocr(&s, &m, &specimen_b64(41, idv_eval::specimen::Validity::Valid, Default::default()), &[]).await;
    assert_eq!(valid.status, 200, "{}", valid.json);
    assert_eq!(
        (valid.json["Result"]["Passed"].as_str(), valid.json["Result"]["SubCode"].as_str()),
        (Some("Y"), Some("200"))
    );
    let ext: Value = serde_json::from_str(valid.json["Result"]["ExtIdInfo"].as_str().unwrap()).unwrap();
    assert!(ext["ocrIdInfo"]["passportNo"].as_str().is_some_and(|p| !p.is_empty()), "{ext}");
    assert_eq!(ext["ocrIdPassed"], "Y");

    let expired =
        doc_ocr(&s, &m, &specimen_b64(42, idv_eval::specimen::Validity::Expired, Default::default()), &[]).await;
    assert_eq!(
        (expired.json["Result"]["Passed"].as_str(), expired.json["Result"]["SubCode"].as_str()),
        (Some("N"), Some("202"))
    );
    let tamper = idv_eval::specimen::Tamper {
        wrong_check_digits: vec![idv_eval::specimen::CheckDigit::DocumentNumber],
        ..Default::default()
    };
    let bad = doc_ocr(&s, &m, &specimen_b64(43, idv_eval::specimen::Validity::Valid, tamper), &[]).await;
    assert_eq!(
        (bad.json["Result"]["Passed"].as_str(), bad.json["Result"]["SubCode"].as_str()),
        (Some("N"), Some("201"))
    );
    let ext: Value = serde_json::from_str(bad.json["Result"]["ExtIdInfo"].as_str().unwrap()).unwrap();
    assert!(ext["reasons"].to_string().contains("mrz_check_document_number"), "the failed check is named: {ext}");

    let garbage = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"not a picture at all");
    assert_error(&doc_ocr(&s, &m, &garbage, &[]).await, 401, "UnqualifiedPhoto");
    assert_error(&doc_ocr(&s, &m, &no_face_b64(), &[]).await, 401, "UnqualifiedPhoto");
    assert_error(&doc_ocr(&s, &m, &no_face_b64(), &[("Spoof", "T")]).await, 400, "InvalidParameter");
    assert_error(&doc_ocr(&s, &m, &no_face_b64(), &[("DocType", "00000006")]).await, 400, "InvalidParameter");
    assert_error(&doc_ocr(&s, &m, &no_face_b64(), &[("CardSide", "OCR_ID_BACK")]).await, 400, "InvalidParameter");
    s.stop().await;
}

/// TD2 cards and both visa formats through DocOcr, each with its own DocType and as GLB00000 (any ICAO MRZ
/// document), whose reading reports the layout it found; a visa has no back page to ask for.
#[tokio::test]
async fn doc_ocr_reads_td2_cards_and_visas_by_their_codes_and_as_any_mrz_document() {
    use idv_eval::specimen::DocKind;
    let s = start().await;
    let m = s.merchant("A").await;
    for (kind, code, format) in [
        (DocKind::Td2, "GLB01002", "TD2"),
        (DocKind::MrvA, "GLB07001", "MRV-A"),
        (DocKind::MrvB, "GLB07002", "MRV-B"),
        (DocKind::MrvB, "GLB00000", "MRV-B"),
        (DocKind::Td2, "GLB00000", "TD2"),
    ] {
        let r = doc_ocr(&s, &m, &specimen_kind_b64(kind, 61), &[("DocType", code)]).await;
        assert_eq!(r.status, 200, "{code}: {}", r.json);
        let ext: Value = serde_json::from_str(r.json["Result"]["ExtIdInfo"].as_str().unwrap()).unwrap();
        assert_eq!(
            (r.json["Result"]["Passed"].as_str(), r.json["Result"]["SubCode"].as_str()),
            (Some("Y"), Some("200")),
            "{code} on {}: {ext}",
            kind.as_str()
        );
        assert_eq!(ext["mrz"]["format"], format, "{code}: {ext}");
    }
    // A passport page offered as a visa is read as what it is, and refused by name.
    let r = doc_ocr(&s, &m, &specimen_kind_b64(DocKind::Td3, 62), &[("DocType", "GLB07001")]).await;
    assert_eq!(r.json["Result"]["SubCode"].as_str(), Some("201"), "{}", r.json);
    assert!(r.json["Result"]["ExtIdInfo"].as_str().unwrap().contains("document_type_matches"), "{}", r.json);
    assert_error(
        &doc_ocr(&s, &m, &no_face_b64(), &[("DocType", "GLB07001"), ("CardSide", "OCR_ID_BACK")]).await,
        400,
        "InvalidParameter",
    );
    s.stop().await;
}
