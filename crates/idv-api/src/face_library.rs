//! Face libraries: AddFaceRecord, QueryFaceRecord, DeleteFaceRecord(V2), ModifyFaceRecord (refused by name),
//! QueryFaceGroup, ModifyFaceGroup, DeleteFaceGroup, and the two searches over them, FaceVerifyIntl and
//! FaceDuplicationCheckIntl (`docs/face-library.md`). Requests and their validation; the answers are built by the
//! server from these types.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::ApiError;
use crate::face::MAX_FACE_IMAGE_BYTES;
use crate::params::{self, ImageSource, Params};

/// Group codes and merchant user ids: what the store accepts.
pub const MAX_CODE: usize = 64;
pub const MAX_USER_ID: usize = 128;
/// Most groups one search may name.
pub const MAX_SEARCH_GROUPS: usize = 10;
/// Most rows a page may hold.
pub const MAX_PAGE_SIZE: i64 = 100;

fn code(p: &Params, name: &str) -> Result<String, ApiError> {
    let v = p.required(name)?;
    check_code(name, v)?;
    Ok(v.to_owned())
}

fn check_code(name: &str, v: &str) -> Result<(), ApiError> {
    if v.len() > MAX_CODE || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(ApiError::invalid(name, format!("1-{MAX_CODE} letters, digits, '_' or '-'")));
    }
    Ok(())
}

fn user_id(p: &Params, required: bool) -> Result<Option<String>, ApiError> {
    let v = p.text("MerchantUserId", MAX_USER_ID)?;
    if required && v.is_none() {
        return Err(ApiError::missing("MerchantUserId"));
    }
    Ok(v.map(str::to_owned))
}

fn int(p: &Params, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
    match p.opt(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .map(Some)
            .ok_or_else(|| ApiError::invalid(name, format!("an integer from {min} to {max}"))),
    }
}

/// `CurrentPage` (1-based) and `PageSize`; `NextToken` (as this server issues it: the next page's number) may
/// stand in for `CurrentPage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub current: i64,
    pub size: i64,
}

impl Page {
    fn parse(p: &Params) -> Result<Page, ApiError> {
        let size = int(p, "PageSize", 1, MAX_PAGE_SIZE)?.or(int(p, "MaxResults", 1, MAX_PAGE_SIZE)?).unwrap_or(10);
        let current = match int(p, "NextToken", 1, i64::from(i32::MAX))? {
            Some(next) => next,
            None => int(p, "CurrentPage", 1, i64::from(i32::MAX))?.unwrap_or(1),
        };
        Ok(Page { current, size })
    }

    pub fn offset(&self) -> i64 {
        (self.current - 1).saturating_mul(self.size)
    }
}

/// The paging fields of a query's answer (top level, next to `Items`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Paged<T> {
    pub current_page: i64,
    pub page_size: i64,
    pub max_results: i64,
    pub total_count: i64,
    pub total_page: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    pub items: Vec<T>,
}

impl<T> Paged<T> {
    pub fn new(page: Page, total: i64, items: Vec<T>) -> Self {
        let total_page = (total + page.size - 1) / page.size;
        Paged {
            current_page: page.current,
            page_size: page.size,
            max_results: page.size,
            total_count: total,
            total_page,
            next_token: (page.current < total_page).then(|| (page.current + 1).to_string()),
            items,
        }
    }
}

/// `(file field, its Base64 counterpart)` pairs: file streams are refused as V2's are.
fn no_oss(p: &Params, fields: &[(&str, &str)]) -> Result<(), ApiError> {
    for (file, base64) in fields {
        crate::v2::refuse_file_field(p, file, base64)?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddFaceRecordRequest {
    pub group_code: String,
    pub merchant_user_id: String,
    pub picture: ImageSource,
    pub quality_check: bool,
}

impl AddFaceRecordRequest {
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        p.one_of("ProductCode", &["FACE_ENROLL"], "FACE_ENROLL")?;
        no_oss(&p, &[("FacePictureFile", "FacePicture")])?;
        let group_code = code(&p, "FaceGroupCode")?;
        // A face is registered for someone: without the user, a duplicate found later names nobody.
        let merchant_user_id = user_id(&p, true)?.unwrap_or_default();
        let picture = params::image(&p, "FacePicture", "FacePictureUrl", MAX_FACE_IMAGE_BYTES)?
            .ok_or_else(|| ApiError::missing("FacePicture"))?;
        let quality_check = p.yes_no("FaceQualityCheck", false)?;
        Ok(AddFaceRecordRequest { group_code, merchant_user_id, picture, quality_check })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFaceRecordRequest {
    pub group_code: String,
    pub face_id: Option<String>,
    pub merchant_user_id: Option<String>,
    pub registration_type: Option<String>,
    pub page: Page,
}

impl QueryFaceRecordRequest {
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let group_code = code(&p, "FaceGroupCode")?;
        let face_id = p.text("FaceId", 64)?.map(str::to_owned);
        let registration_type = match p.opt("RegistrationType") {
            None => None,
            Some(_) => Some(p.one_of("RegistrationType", &["MANUAL", "AUTO"], "MANUAL")?.to_owned()),
        };
        Ok(QueryFaceRecordRequest {
            group_code,
            face_id,
            merchant_user_id: user_id(&p, false)?,
            registration_type,
            page: Page::parse(&p)?,
        })
    }
}

/// One row of QueryFaceRecord's `Items`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct FaceRecordItem {
    pub id: i64,
    pub face_id: String,
    pub merchant_user_id: String,
    pub registration_type: String,
    /// ISO 8601, UTC.
    pub gmt_create: String,
    /// Empty: idv keeps the face's embedding, not its picture.
    pub img_oss_url: String,
}

/// DeleteFaceRecord: by the record's `Id`.
pub fn delete_face_record_id(map: &BTreeMap<String, String>) -> Result<i64, ApiError> {
    let p = Params::new(map);
    int(&p, "Id", 1, i64::MAX)?.ok_or_else(|| ApiError::missing("Id"))
}

/// DeleteFaceRecordV2: a user's faces, in one group or all of the merchant's.
pub fn delete_face_record_v2(map: &BTreeMap<String, String>) -> Result<(Option<String>, String), ApiError> {
    let p = Params::new(map);
    let group = match p.opt("FaceGroupCode") {
        Some(_) => Some(code(&p, "FaceGroupCode")?),
        None => None,
    };
    Ok((group, user_id(&p, true)?.unwrap_or_default()))
}

/// ModifyFaceRecord replaces a face with pictures named by `ImgOssInfos` (objects in the vendor's OSS): refused
/// by name, with what to do instead.
pub fn modify_face_record(map: &BTreeMap<String, String>) -> ApiError {
    let p = Params::new(map);
    if p.opt("FaceGroupCode").is_none() {
        return ApiError::missing("FaceGroupCode");
    }
    ApiError::invalid(
        "ImgOssInfos",
        "names pictures in the vendor's OSS, which this server does not have; replace a face with AddFaceRecord \
         after DeleteFaceRecord, or FaceDuplicationCheckIntl with UpdateFaceIfUserExists=Y",
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFaceGroupRequest {
    pub group_code: Option<String>,
    pub name: Option<String>,
    pub page: Page,
}

impl QueryFaceGroupRequest {
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let group_code = match p.opt("GroupCode") {
            Some(_) => Some(code(&p, "GroupCode")?),
            None => None,
        };
        Ok(QueryFaceGroupRequest {
            group_code,
            name: p.text("Name", MAX_CODE)?.map(str::to_owned),
            page: Page::parse(&p)?,
        })
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct FaceGroupItem {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifyFaceGroupRequest {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
}

impl ModifyFaceGroupRequest {
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let id = int(&p, "Id", 1, i64::MAX)?.ok_or_else(|| ApiError::missing("Id"))?;
        let name = p.text("Name", MAX_CODE)?.ok_or_else(|| ApiError::missing("Name"))?.to_owned();
        let description = p.text("Description", 128)?.map(str::to_owned);
        Ok(ModifyFaceGroupRequest { id, name, description })
    }
}

pub fn delete_face_group_id(map: &BTreeMap<String, String>) -> Result<i64, ApiError> {
    delete_face_record_id(map)
}

/// FaceVerifyIntl / FaceDuplicationCheckIntl.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceSearchRequest {
    pub merchant_biz_id: Option<String>,
    pub merchant_user_id: Option<String>,
    pub source: ImageSource,
    /// FaceVerifyIntl only: compare with this picture instead of the user's registered face.
    pub target: Option<ImageSource>,
    /// `VerifyModel=1`: search the groups (1:N); `0`: compare with one face (1:1).
    pub one_to_n: bool,
    pub group_codes: Vec<String>,
    pub register_group: Option<String>,
    pub auto_registration: bool,
    pub update_if_exists: bool,
    pub return_faces: bool,
    pub quality_check: bool,
    /// On the FaceComparisonScore scale (0-100); `None`: the engine's calibrated threshold.
    pub threshold: Option<f32>,
}

/// `FaceVerifyThreshold` on the FaceComparisonScore scale, as FaceCrossCompareIntl takes it.
pub fn threshold(p: &Params) -> Result<Option<f32>, ApiError> {
    match p.opt("FaceVerifyThreshold") {
        None => Ok(None),
        Some(v) => {
            v.parse::<f32>().ok().filter(|t| t.is_finite() && (1.0..=100.0).contains(t)).map(Some).ok_or_else(|| {
                ApiError::invalid(
                    "FaceVerifyThreshold",
                    "must be a number from 1 to 100 on the FaceComparisonScore scale (the engine's calibrated match \
                     threshold is 70)",
                )
            })
        }
    }
}

impl FaceSearchRequest {
    /// `duplication`: FaceDuplicationCheckIntl (1:N always; MerchantBizId, MerchantUserId and VerifyModel required).
    pub fn parse(map: &BTreeMap<String, String>, duplication: bool) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let product = if duplication { "FACE_IDU_MIN" } else { "FACE_VERIFY_MIN" };
        if p.required("ProductCode")? != product {
            return Err(ApiError::invalid("ProductCode", format!("this action serves {product}")));
        }
        no_oss(&p, &[("SourceFacePictureFile", "SourceFacePicture"), ("TargetFacePictureFile", "TargetFacePicture")])?;
        let merchant_biz_id = if duplication {
            Some(params::merchant_biz_id(&p)?)
        } else {
            p.opt("MerchantBizId").map(|_| params::merchant_biz_id(&p)).transpose()?
        };
        let merchant_user_id = user_id(&p, duplication)?;
        // Liveness and attributes on one still picture would need a passive anti-spoofing and attribute model that
        // is not installed: refused, never reported as checked.
        if p.one_zero("Liveness", false)? {
            return Err(ApiError::invalid(
                "Liveness",
                "passive liveness on one picture needs an anti-spoofing model this server does not have; use the \
                 device flow (Initialize) for liveness",
            ));
        }
        if p.opt("FaceAttributeCheck").is_some_and(|v| v == "1" || v == "Y") {
            return Err(ApiError::invalid(
                "FaceAttributeCheck",
                "face attributes (age, gender) are not estimated here",
            ));
        }
        if p.one_zero("SaveFacePicture", false)? {
            return Err(ApiError::invalid(
                "SaveFacePicture",
                "idv keeps a registered face's embedding, never its picture",
            ));
        }
        p.text("SceneCode", 64)?;
        let one_to_n = match p.opt("VerifyModel") {
            None if duplication => return Err(ApiError::missing("VerifyModel")),
            None => false,
            Some(_) => p.one_of("VerifyModel", &["0", "1"], "0")? == "1",
        };
        if duplication && !one_to_n {
            return Err(ApiError::invalid("VerifyModel", "a duplication check searches the groups: VerifyModel=1"));
        }
        let source = params::image(&p, "SourceFacePicture", "SourceFacePictureUrl", MAX_FACE_IMAGE_BYTES)?
            .ok_or_else(|| ApiError::missing("SourceFacePicture"))?;
        let target = params::image(&p, "TargetFacePicture", "TargetFacePictureUrl", MAX_FACE_IMAGE_BYTES)?;
        let mut group_codes = Vec::new();
        if let Some(v) = p.opt("FaceGroupCodes") {
            // The spec's example separates with a full-width comma.
            for c in v.split([',', '，']).map(str::trim).filter(|c| !c.is_empty()) {
                check_code("FaceGroupCodes", c)?;
                if !group_codes.iter().any(|g| g == c) {
                    group_codes.push(c.to_owned());
                }
            }
        }
        if group_codes.len() > MAX_SEARCH_GROUPS {
            return Err(ApiError::invalid("FaceGroupCodes", format!("at most {MAX_SEARCH_GROUPS} groups")));
        }
        let register_group = match p.opt("FaceRegisterGroupCode") {
            Some(_) => Some(code(&p, "FaceRegisterGroupCode")?),
            None => None,
        };
        let auto_registration = p.one_zero("AutoRegistration", false)?;
        if auto_registration && register_group.is_none() {
            return Err(ApiError::missing("FaceRegisterGroupCode"));
        }
        if auto_registration && merchant_user_id.is_none() {
            return Err(ApiError::missing("MerchantUserId"));
        }
        if (one_to_n || target.is_none()) && group_codes.is_empty() {
            return Err(ApiError::missing("FaceGroupCodes"));
        }
        if !one_to_n && target.is_none() && merchant_user_id.is_none() {
            return Err(ApiError::invalid(
                "MerchantUserId",
                "a 1:1 verification without TargetFacePicture compares with this user's registered face",
            ));
        }
        let update_if_exists = match p.opt("UpdateFaceIfUserExists") {
            None => false,
            Some("1" | "Y") => true,
            Some("0" | "N") => false,
            Some(_) => return Err(ApiError::invalid("UpdateFaceIfUserExists", "must be Y or N")),
        };
        Ok(FaceSearchRequest {
            merchant_biz_id,
            merchant_user_id,
            source,
            target,
            one_to_n,
            group_codes,
            register_group,
            auto_registration,
            update_if_exists,
            return_faces: p.one_zero("ReturnFaces", false)?,
            quality_check: p.yes_no("FaceQualityCheck", false)?,
            threshold: threshold(&p)?,
        })
    }
}

/// Initialize's face-library options: the device flow's live face is searched in `group_codes`; a match with
/// another user fails the verdict with SubCode 211, and a passing face joins `register_group` with
/// `AutoRegistration=1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FlowFaceLibrary {
    pub group_codes: Vec<String>,
    pub register_group: Option<String>,
    pub auto_registration: bool,
    pub update_if_exists: bool,
    /// `FaceVerifyThreshold` in hundredths of a FaceComparisonScore point (the options are compared exactly).
    pub threshold_centi: Option<u32>,
}

impl FlowFaceLibrary {
    /// `None` when no face-library option is given; refused by name for a product without a face step.
    pub fn parse(p: &Params, has_face: bool) -> Result<Option<Self>, ApiError> {
        let names = ["FaceGroupCodes", "FaceRegisterGroupCode", "AutoRegistration", "UpdateFaceIfUserExists"];
        if !names.iter().any(|n| p.opt(n).is_some()) {
            return Ok(None);
        }
        if !has_face {
            return Err(ApiError::invalid("FaceGroupCodes", "this product has no face step to search with"));
        }
        let mut group_codes = Vec::new();
        for c in p.required("FaceGroupCodes")?.split([',', '，']).map(str::trim).filter(|c| !c.is_empty()) {
            check_code("FaceGroupCodes", c)?;
            if !group_codes.iter().any(|g| g == c) {
                group_codes.push(c.to_owned());
            }
        }
        if group_codes.is_empty() || group_codes.len() > MAX_SEARCH_GROUPS {
            return Err(ApiError::invalid("FaceGroupCodes", format!("1 to {MAX_SEARCH_GROUPS} group codes")));
        }
        let register_group = match p.opt("FaceRegisterGroupCode") {
            Some(_) => Some(code(p, "FaceRegisterGroupCode")?),
            None => None,
        };
        let auto_registration = p.one_zero("AutoRegistration", false)?;
        if auto_registration && register_group.is_none() {
            return Err(ApiError::missing("FaceRegisterGroupCode"));
        }
        let update_if_exists = match p.opt("UpdateFaceIfUserExists") {
            None | Some("0" | "N") => false,
            Some("1" | "Y") => true,
            Some(_) => return Err(ApiError::invalid("UpdateFaceIfUserExists", "must be Y or N")),
        };
        p.one_zero("ReturnFaces", false)?;
        Ok(Some(FlowFaceLibrary {
            group_codes,
            register_group,
            auto_registration,
            update_if_exists,
            threshold_centi: threshold(p)?.map(|t| (t * 100.0).round() as u32),
        }))
    }

    pub fn threshold(&self) -> Option<f32> {
        self.threshold_centi.map(|c| c as f32 / 100.0)
    }
}

/// One entry of `DuplicateFace`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateFace {
    pub face_group_code: String,
    pub face_id: String,
    pub merchant_user_id: String,
    /// FaceComparisonScore of the probe with this face (an idv addition).
    pub score: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn searches_name_what_they_refuse() {
        let base = [
            ("ProductCode", "FACE_IDU_MIN"),
            ("MerchantBizId", "b1"),
            ("MerchantUserId", "u1"),
            ("VerifyModel", "1"),
            ("SourceFacePicture", "AAAA"),
            ("FaceGroupCodes", "g1，g2,g1"),
        ];
        let r = FaceSearchRequest::parse(&m(&base), true).unwrap();
        assert_eq!(r.group_codes, ["g1", "g2"]);
        for (k, v, named) in [
            ("Liveness", "1", "Liveness"),
            ("SaveFacePicture", "1", "SaveFacePicture"),
            ("FaceVerifyThreshold", "0.5", "FaceVerifyThreshold"),
            ("VerifyModel", "0", "VerifyModel"),
            ("AutoRegistration", "1", "FaceRegisterGroupCode"),
            ("FaceGroupCodes", "bad code!", "FaceGroupCodes"),
        ] {
            let mut q = m(&base);
            q.insert(k.into(), v.into());
            let e = FaceSearchRequest::parse(&q, true).unwrap_err();
            assert!(e.to_string().contains(named), "{k}={v}: {e}");
        }
        let mut q = m(&base);
        q.remove("MerchantUserId");
        assert!(FaceSearchRequest::parse(&q, true).unwrap_err().to_string().contains("MerchantUserId"));
    }

    #[test]
    fn pages_and_next_tokens() {
        let p = Page::parse(&Params::new(&m(&[("CurrentPage", "3"), ("PageSize", "20")]))).unwrap();
        assert_eq!((p.offset(), p.size), (40, 20));
        let paged = Paged::new(p, 65, vec![()]);
        assert_eq!((paged.total_page, paged.next_token.as_deref()), (4, Some("4")));
        assert!(Page::parse(&Params::new(&m(&[("PageSize", "1000")]))).is_err());
        assert_eq!(Page::parse(&Params::new(&m(&[("NextToken", "2")]))).unwrap().current, 2);
    }
}
