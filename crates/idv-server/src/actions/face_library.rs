//! Face libraries (`docs/face-library.md`): records and groups per merchant, and the two searches over them.

use std::collections::BTreeMap;

use idv_api::face_library::{
    self as fl, AddFaceRecordRequest, DuplicateFace, FaceGroupItem, FaceRecordItem, FaceSearchRequest,
    ModifyFaceGroupRequest, Paged, QueryFaceGroupRequest, QueryFaceRecordRequest,
};
use idv_api::{ApiError, ErrorCode};
use idv_face::{FaceAnalysis, MultiFace, comparison_score};
use idv_flow::FaceSearch;
use idv_store::FaceRecordFilter;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::actions::{Success, inline};
use crate::auth::Caller;
use crate::engines::face_error;
use crate::error::ServerError;

fn r2(x: f32) -> f32 {
    (x * 100.0).round() / 100.0
}

/// Decode and analyse one picture (the largest face).
async fn analyse(state: &AppState, param: &'static str, bytes: Vec<u8>) -> Result<FaceAnalysis, ServerError> {
    state
        .engines
        .run(move |e| {
            let img = e.face.decode(&bytes).map_err(|err| face_error(param, err))?;
            e.face.analyze(&img, MultiFace::Largest).map_err(|err| face_error(param, err))
        })
        .await?
}

fn quality_json(a: &FaceAnalysis) -> Value {
    json!({
        "FaceQualityScore": r2(a.quality.face_quality_score),
        "SharpnessScore": r2(a.quality.sharpness_score),
        "IlluminationScore": r2(a.quality.illumination_score),
    })
}

fn iso(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn unknown_group(param: &str, code: &str) -> ServerError {
    ApiError::invalid(param, format!("no face group {code:?} exists for this merchant")).into()
}

/// Registers `a` for `user` in `group_code`; `Ok(None)`: the user already has a face there and `replace` is off.
async fn register(
    state: &AppState,
    caller: &Caller,
    group_code: &str,
    user: &str,
    registration_type: &str,
    a: &FaceAnalysis,
    replace: bool,
) -> Result<Option<idv_store::FaceRecord>, ServerError> {
    crate::face_library::register(
        state,
        &caller.merchant.id,
        &caller.access_key_id,
        group_code,
        user,
        registration_type,
        a.embedding.as_slice(),
        replace,
    )
    .await
}

pub async fn add_record(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let req = AddFaceRecordRequest::parse(params)?;
    let bytes = inline("FacePictureUrl", req.picture)?;
    let a = analyse(state, "FacePicture", bytes).await?;
    let issues = a.quality.issues();
    if req.quality_check && !issues.is_empty() {
        return Ok(Success(json!({
            "Passed": "N",
            "ExtFaceInfo": json!({"faceQuality": "LOW", "issues": format!("{issues:?}")}).to_string(),
        })));
    }
    let Some(r) = register(state, caller, &req.group_code, &req.merchant_user_id, "MANUAL", &a, false).await? else {
        return Err(ApiError::new(
            ErrorCode::InvalidParameter,
            format!(
                "MerchantUserId {:?} already has a face in group {:?}; DeleteFaceRecord it first",
                req.merchant_user_id, req.group_code
            ),
        )
        .into());
    };
    let quality = if issues.is_empty() { "HIGH" } else { "LOW" };
    Ok(Success(json!({
        "Passed": "Y",
        "FaceId": r.face_id,
        "Id": r.id,
        "ExtFaceInfo": json!({"faceQuality": quality, "faceQualityScore": r2(a.quality.face_quality_score)}).to_string(),
    })))
}

pub async fn query_records(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let req = QueryFaceRecordRequest::parse(params)?;
    let Some(group) = state.store.face_group(&caller.merchant.id, &req.group_code, None).await? else {
        return Err(unknown_group("FaceGroupCode", &req.group_code));
    };
    let filter = FaceRecordFilter {
        face_id: req.face_id,
        merchant_user_id: req.merchant_user_id,
        registration_type: req.registration_type,
    };
    let (rows, total) =
        state.store.face_records(&caller.merchant.id, group.id, &filter, req.page.offset(), req.page.size).await?;
    let items: Vec<FaceRecordItem> = rows
        .into_iter()
        .map(|r| FaceRecordItem {
            id: r.id,
            face_id: r.face_id,
            merchant_user_id: r.merchant_user_id,
            registration_type: r.registration_type,
            gmt_create: iso(r.created_at),
            img_oss_url: String::new(),
        })
        .collect();
    top_level(Paged::new(req.page, total, items))
}

fn top_level<T: serde::Serialize>(v: T) -> Result<Success, ServerError> {
    match serde_json::to_value(v).map_err(ServerError::internal)? {
        Value::Object(m) => Ok(Success::top_level(m)),
        _ => Err(ServerError::internal("a paged answer is an object")),
    }
}

fn data(n: i64) -> Result<Success, ServerError> {
    let mut m = Map::new();
    m.insert("Data".into(), json!(n));
    Ok(Success::top_level(m))
}

pub async fn delete_record(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let id = fl::delete_face_record_id(params)?;
    match state.store.delete_face_record(&caller.merchant.id, id).await? {
        // Another merchant's record and a missing one answer alike.
        None => Err(ApiError::invalid("Id", "no such face record").into()),
        Some(r) => {
            state.face_libraries.removed(state, &caller.merchant.id, std::slice::from_ref(&r)).await?;
            crate::audit::audit_key(state, caller, "face.deleted", &r.face_id, json!({"kind": "face.deleted"})).await;
            data(1)
        }
    }
}

pub async fn delete_record_v2(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let (group, user) = fl::delete_face_record_v2(params)?;
    let gone = state.store.delete_user_faces(&caller.merchant.id, group.as_deref(), &user).await?;
    state.face_libraries.removed(state, &caller.merchant.id, &gone).await?;
    for r in &gone {
        crate::audit::audit_key(state, caller, "face.deleted", &r.face_id, json!({"kind": "face.deleted"})).await;
    }
    let mut groups: Vec<&str> = gone.iter().map(|r| r.group_code.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    Ok(Success(json!({
        "Deleted": if gone.is_empty() { "N" } else { "Y" },
        "DeletedGroupCodes": groups.join(","),
    })))
}

pub fn modify_record(params: &BTreeMap<String, String>) -> Result<Success, ServerError> {
    Err(fl::modify_face_record(params).into())
}

pub async fn query_groups(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let req = QueryFaceGroupRequest::parse(params)?;
    let (rows, total) = state
        .store
        .face_groups(
            &caller.merchant.id,
            req.group_code.as_deref(),
            req.name.as_deref(),
            req.page.offset(),
            req.page.size,
        )
        .await?;
    let items: Vec<FaceGroupItem> = rows
        .into_iter()
        .map(|g| FaceGroupItem { id: g.id, code: g.code, name: g.name, description: g.description })
        .collect();
    top_level(Paged::new(req.page, total, items))
}

pub async fn modify_group(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let req = ModifyFaceGroupRequest::parse(params)?;
    if !state.store.modify_face_group(&caller.merchant.id, req.id, &req.name, req.description.as_deref()).await? {
        return Err(ApiError::invalid("Id", "no such face group").into());
    }
    data(1)
}

pub async fn delete_group(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
) -> Result<Success, ServerError> {
    let id = fl::delete_face_group_id(params)?;
    if !state.store.delete_face_group(&caller.merchant.id, id).await? {
        return Err(ApiError::invalid("Id", "no such face group").into());
    }
    state.face_libraries.forget(id).await;
    crate::audit::audit_key(
        state,
        caller,
        "face.group_deleted",
        &id.to_string(),
        json!({"kind": "face.group_deleted"}),
    )
    .await;
    data(1)
}

async fn search(
    state: &AppState,
    caller: &Caller,
    groups: &[String],
    a: &FaceAnalysis,
    threshold: f32,
) -> Result<Vec<DuplicateFace>, ServerError> {
    crate::face_library::search(state, &caller.merchant.id, groups, a.embedding.as_slice(), threshold).await
}

/// FaceVerifyIntl (`duplication` false) and FaceDuplicationCheckIntl (true).
pub async fn verify(
    state: &AppState,
    params: &BTreeMap<String, String>,
    caller: &Caller,
    duplication: bool,
) -> Result<Success, ServerError> {
    let req = FaceSearchRequest::parse(params, duplication)?;
    let action = if duplication { "FaceDuplicationCheckIntl" } else { "FaceVerifyIntl" };
    let source = inline("SourceFacePictureUrl", req.source.clone())?;
    let a = analyse(state, "SourceFacePicture", source).await?;
    let decision_cosine = state.engines.face().config().decision_cosine;
    let threshold = req.threshold.unwrap_or(idv_face::SCORE_AT_THRESHOLD);
    let mut ext = quality_json(&a);
    let user = req.merchant_user_id.as_deref();

    let mut best_score: Option<f32> = None;
    let mut matches: Vec<DuplicateFace> = Vec::new();
    let outcome = if req.quality_check && !a.quality.issues().is_empty() {
        FaceSearch::PoorQuality
    } else if let (false, Some(target)) = (req.one_to_n, req.target.clone()) {
        // 1:1 with a second picture.
        let t = analyse(state, "TargetFacePicture", inline("TargetFacePictureUrl", target)?).await?;
        let score = comparison_score(a.embedding.cosine(&t.embedding), decision_cosine);
        best_score = Some(score);
        if let Value::Object(m) = &mut ext {
            m.insert("TargetFaceQualityScore".into(), json!(r2(t.quality.face_quality_score)));
            m.insert("TargetSharpnessScore".into(), json!(r2(t.quality.sharpness_score)));
            m.insert("TargetIlluminationScore".into(), json!(r2(t.quality.illumination_score)));
        }
        if score >= threshold { FaceSearch::Matched } else { FaceSearch::NotMatched }
    } else {
        matches = search(state, caller, &req.group_codes, &a, 0.0).await?;
        if !req.one_to_n {
            // 1:1 against the user's own registered face.
            let own: Vec<&DuplicateFace> =
                matches.iter().filter(|m| Some(m.merchant_user_id.as_str()) == user).collect();
            best_score = own.first().map(|m| m.score);
            let registered = user_has_face(state, caller, &req.group_codes, user.unwrap_or_default()).await?;
            match best_score {
                _ if !registered => FaceSearch::NoReference,
                Some(s) if s >= threshold => FaceSearch::Matched,
                _ => FaceSearch::NotMatched,
            }
        } else if duplication {
            // Another user's face at the threshold is a second account of one person.
            matches.retain(|m| m.score >= threshold && Some(m.merchant_user_id.as_str()) != user);
            best_score = matches.first().map(|m| m.score);
            if matches.is_empty() { FaceSearch::Unique } else { FaceSearch::Duplicate }
        } else {
            matches.retain(|m| m.score >= threshold);
            best_score = matches.first().map(|m| m.score);
            if matches.is_empty() { FaceSearch::NotMatched } else { FaceSearch::Matched }
        }
    };
    let (passed, sub_code) = idv_flow::face_search(outcome);

    // Registration, when asked for: only a face that is not another user's (a duplicate is not registered again).
    let mut registration: Option<(String, i64)> = None;
    if req.auto_registration
        && outcome != FaceSearch::PoorQuality
        && outcome != FaceSearch::Duplicate
        && let (Some(group), Some(user)) = (&req.register_group, user)
    {
        registration = match register(state, caller, group, user, "AUTO", &a, req.update_if_exists).await? {
            Some(r) => Some((r.face_id, 1)),
            None => Some((String::new(), 0)),
        };
    }
    let transaction_id = idv_crypto::random_hex(16);
    tracing::info!(merchant = %caller.merchant.id, transaction_id, passed, sub_code = sub_code.code(), matches = matches.len(), biz = ?req.merchant_biz_id, "{action}");
    crate::audit::audit_key(
        state,
        caller,
        "image.processed",
        &transaction_id,
        json!({"kind": action, "passed": passed, "subCode": sub_code.code()}),
    )
    .await;
    let mut result = json!({
        "TransactionId": transaction_id,
        "FacePassed": if passed { "Y" } else { "N" },
        "SubCode": sub_code.code(),
        "ExtFaceInfo": ext,
    });
    let o = result.as_object_mut().expect("an object literal");
    if let Some(s) = best_score {
        o.insert("FaceComparisonScore".into(), json!(s));
    }
    if req.return_faces || outcome == FaceSearch::Duplicate {
        let list: Vec<&DuplicateFace> = if req.return_faces { matches.iter().collect() } else { Vec::new() };
        o.insert("DuplicateFace".into(), json!(serde_json::to_string(&list).map_err(ServerError::internal)?));
    }
    if let Some((face_id, done)) = registration {
        o.insert("FaceRegistrationId".into(), json!(face_id));
        o.insert("FaceRegistrationResult".into(), json!(done));
    }
    Ok(Success(result))
}

async fn user_has_face(state: &AppState, caller: &Caller, groups: &[String], user: &str) -> Result<bool, ServerError> {
    for code in groups {
        let Some(g) = state.store.face_group(&caller.merchant.id, code, None).await? else { continue };
        let filter = FaceRecordFilter { merchant_user_id: Some(user.to_owned()), ..FaceRecordFilter::default() };
        if state.store.face_records(&caller.merchant.id, g.id, &filter, 0, 1).await?.1 > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}
