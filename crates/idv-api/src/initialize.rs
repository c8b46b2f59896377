//! The Initialize action's request: parsed from the flat parameter map, checked per product, and the MetaInfo
//! usability check. A request that passes here is one the server can really serve.

use base64::Engine;
use idv_protocol::{MetaInfo, Product};
use serde::{Deserialize, Serialize};

use crate::doctype::DocType;
use crate::error::{ApiError, ErrorCode};
use crate::params::{self, Params};

/// The largest reference face image accepted inline (decoded bytes).
pub const MAX_INLINE_IMAGE_BYTES: usize = 5 * 1024 * 1024;

/// Product codes of cloudauth-intl that this server knows but does not serve: refused by name, never half-served.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "eKYC_MIN",
    "eKYC_NDI",
    "ID_OCR_PRO",
    "ID_OCR_MAX",
    "ID_NFC",
    "FACE_LIVENESS_PRO",
    "FACE_LIVENESS_MIN",
    "FACE_VERIFY",
    "FACE_IDU",
    "FACE_GUARD",
    "KYC_GLOBAL",
];

/// Liveness actions of the TEMPLATE model (TemplateConfig codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LivenessAction {
    Blink,
    OpenMouth,
    HeadLeft,
    HeadRight,
    Farther,
    Closer,
    ColourFlash,
}

impl LivenessAction {
    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "01" => LivenessAction::Blink,
            "02" => LivenessAction::OpenMouth,
            "03" => LivenessAction::HeadLeft,
            "04" => LivenessAction::HeadRight,
            "05" => LivenessAction::Farther,
            "06" => LivenessAction::Closer,
            "07" => LivenessAction::ColourFlash,
            _ => return None,
        })
    }
}

/// The liveness configuration requested by `Model` (+ `TemplateConfig`, `TemplateType`, `TemplateRanCount`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivenessConfig {
    pub model: String,
    /// Candidate actions, in the merchant's order.
    pub actions: Vec<LivenessAction>,
    /// `Ran`: draw `count` of `actions` at random; `Seq`: all of them in order.
    pub random: bool,
    pub count: usize,
}

impl LivenessConfig {
    pub fn needs_flash(&self) -> bool {
        self.actions.contains(&LivenessAction::ColourFlash)
    }
}

/// A reference face supplied by the merchant (FACE_LIVENESS against a known face).
#[derive(Clone, PartialEq, Eq)]
pub struct ReferenceFace(pub Vec<u8>);

impl std::fmt::Debug for ReferenceFace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReferenceFace({} bytes)", self.0.len())
    }
}

/// Options a transaction carries into the device flow and the decision. Persisted with the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionOptions {
    pub product: Product,
    pub merchant_user_id: String,
    pub scene_code: Option<String>,
    pub doc_type: Option<DocType>,
    pub back_page: bool,
    pub liveness: Option<LivenessConfig>,
    pub callback_url: Option<String>,
    pub callback_token: Option<String>,
    pub return_url: Option<String>,
    pub id_face_quality: bool,
    pub id_threshold: String,
    pub security_level: String,
    pub show_ocr_result: bool,
    pub edit_ocr_result: bool,
    /// `LanguageConfig` as the page's language code (`en`, `zh`), checked by [`crate::Language::parse`].
    pub language: Option<String>,
    /// `StyleConfig` as given, checked by [`crate::WebStyle::parse`].
    pub style_config: Option<String>,
    /// `ShowAlbumIcon=1`: the capture page offers document upload from the gallery.
    #[serde(default)]
    pub show_album_icon: bool,
    pub need_multi_face_check: bool,
    pub crop: bool,
    pub device_type: String,
    /// `FaceGroupCodes` and the other face-library options: the live face is searched in these groups and a
    /// match with another user fails the verdict (SubCode 211); `docs/face-library.md`.
    #[serde(default)]
    pub face_library: Option<crate::face_library::FlowFaceLibrary>,
}

impl TransactionOptions {
    /// What the decision policy needs of these options.
    pub fn policy(&self) -> idv_flow::Policy {
        idv_flow::Policy { product: self.product, doc_type: self.doc_type.map(|d| d.code().to_owned()) }
    }
}

#[derive(Debug, Clone)]
pub struct InitializeRequest {
    pub merchant_biz_id: String,
    pub meta: MetaInfo,
    pub options: TransactionOptions,
    pub reference_face: Option<ReferenceFace>,
    /// Initialize answers with a `TransactionUrl`: always for a browser (`deviceType` web or h5), and for an app
    /// that asked with `ProcedurePriority=url` (to send its user to the browser instead of running the SDK).
    pub wants_url: bool,
}

fn product(p: &Params) -> Result<Product, ApiError> {
    let code = p.required("ProductCode")?;
    if let Some(product) = Product::from_code(code) {
        return Ok(product);
    }
    let supported: Vec<&str> = Product::ALL.iter().map(|p| p.code()).collect();
    let what = if KNOWN_UNSUPPORTED.contains(&code) { "is not supported by this server" } else { "is unknown" };
    Err(ApiError::invalid(
        "ProductCode",
        format!("\"{}\" {what} (supported: {})", code.chars().take(32).collect::<String>(), supported.join(", ")),
    ))
}

fn liveness(p: &Params) -> Result<LivenessConfig, ApiError> {
    let model = p.one_of("Model", &["LIVENESS", "PHOTINUS_LIVENESS", "TEMPLATE"], "LIVENESS")?;
    Ok(match model {
        "LIVENESS" => {
            LivenessConfig { model: model.into(), actions: vec![LivenessAction::Blink], random: false, count: 1 }
        }
        "PHOTINUS_LIVENESS" => LivenessConfig {
            model: model.into(),
            actions: vec![LivenessAction::Blink, LivenessAction::ColourFlash],
            random: false,
            count: 2,
        },
        _ => {
            let cfg = p.required("TemplateConfig")?;
            let mut actions = Vec::new();
            for code in cfg.split(',').map(str::trim) {
                let a = LivenessAction::from_code(code).ok_or_else(|| {
                    ApiError::invalid(
                        "TemplateConfig",
                        format!("unknown action code \"{}\" (01-07)", code.chars().take(8).collect::<String>()),
                    )
                })?;
                if actions.contains(&a) {
                    return Err(ApiError::invalid("TemplateConfig", format!("action {code} is listed twice")));
                }
                actions.push(a);
            }
            let random = p.one_of("TemplateType", &["Seq", "Ran"], "Seq")? == "Ran";
            let count = match (random, p.opt("TemplateRanCount")) {
                (false, _) => actions.len(),
                (true, None) => actions.len(),
                (true, Some(n)) => match n.parse::<usize>() {
                    Ok(n) if (1..=actions.len()).contains(&n) => n,
                    _ => return Err(ApiError::invalid("TemplateRanCount", format!("must be 1-{}", actions.len()))),
                },
            };
            LivenessConfig { model: model.into(), actions, random, count }
        }
    })
}

fn reference_face(p: &Params) -> Result<Option<ReferenceFace>, ApiError> {
    let b64 = [("FacePictureBase64", p.opt("FacePictureBase64")), ("TargetFacePicture", p.opt("TargetFacePicture"))];
    let urls = [("FacePictureUrl", p.opt("FacePictureUrl")), ("TargetFacePictureUrl", p.opt("TargetFacePictureUrl"))];
    let given_b64: Vec<_> = b64.iter().filter(|(_, v)| v.is_some()).collect();
    let given_url: Vec<_> = urls.iter().filter(|(_, v)| v.is_some()).collect();
    if given_b64.len() + given_url.len() > 1 {
        return Err(ApiError::new(
            ErrorCode::DataDuplication,
            "Give the reference face once: either as Base64 or as a URL, not both.",
        ));
    }
    if let Some((name, _)) = given_url.first() {
        return Err(ApiError::invalid(
            name,
            "fetching images from URLs is disabled on this server; send the picture as Base64 in the form body",
        ));
    }
    let Some((name, Some(v))) = given_b64.first().copied() else { return Ok(None) };
    if v.len() > MAX_INLINE_IMAGE_BYTES / 3 * 4 + 4 {
        return Err(ApiError::new(
            ErrorCode::ToolargeImage,
            format!("{name} is larger than {} bytes", MAX_INLINE_IMAGE_BYTES),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .map_err(|_| ApiError::invalid(name, "not valid Base64"))?;
    if bytes.is_empty() {
        return Err(ApiError::invalid(name, "empty image"));
    }
    Ok(Some(ReferenceFace(bytes)))
}

fn refuse_unbuilt(p: &Params) -> Result<(), ApiError> {
    // Checks the server cannot perform are refused, not silently skipped: a merchant asking for them must not
    // receive a pass that never looked.
    for (name, value, why) in [
        ("UseNFC", "Y", "NFC chip reading is not available on this server"),
        ("Authorize", "Y", "no authoritative identity source is connected to this server"),
        ("Authorize", "T", "no authoritative identity source is connected to this server"),
        ("IdSpoof", "Y", "document anti-spoofing (screen/copy/tamper detection) is not available on this server"),
        ("DocVideo", "Y", "document video capture is not available on this server"),
    ] {
        if p.opt(name) == Some(value) {
            return Err(ApiError::invalid(name, format!("{name}={value} cannot be honoured: {why}")));
        }
    }
    Ok(())
}

impl InitializeRequest {
    pub fn parse(map: &std::collections::BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let product = product(&p)?;
        let merchant_biz_id = params::merchant_biz_id(&p)?;
        let merchant_user_id = p.required("MerchantUserId")?;
        if p.text("MerchantUserId", 128).is_err() {
            return Err(ApiError::invalid(
                "MerchantUserId",
                "must be at most 128 characters without control characters",
            ));
        }
        let meta_raw = p.required("MetaInfo")?;
        let meta = MetaInfo::parse(meta_raw).map_err(|e| ApiError::invalid("MetaInfo", e))?;
        if let Some(sc) = p.opt("SceneCode")
            && (sc.len() > 10 || !sc.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(ApiError::invalid("SceneCode", "must be at most 10 letters, digits or underscores"));
        }
        refuse_unbuilt(&p)?;

        let doc_type = if product.needs_document() {
            Some(DocType::parse(p.required("DocType")?).map_err(|why| ApiError::invalid("DocType", why))?)
        } else {
            None
        };
        let pages = p.one_of("Pages", &["01", "01,02"], "01")?;
        let mut back_page = pages == "01,02";
        if let Some(cfg) = p.opt("DocPageConfig") {
            let list: Vec<String> = serde_json::from_str(cfg)
                .map_err(|_| ApiError::invalid("DocPageConfig", "must be a JSON list such as [\"01\",\"02\"]"))?;
            if list.is_empty() || list.iter().any(|x| x != "01" && x != "02") {
                return Err(ApiError::invalid("DocPageConfig", "pages must be \"01\" (front) and/or \"02\" (back)"));
            }
            back_page = list.iter().any(|x| x == "02");
        }
        if let Some(dt) = &doc_type
            && back_page
            && !dt.has_back_page()
        {
            return Err(ApiError::invalid("Pages", format!("document type {} has no back page", dt.code())));
        }
        let liveness = if product.needs_face() { Some(liveness(&p)?) } else { None };
        let needs_flash = liveness.as_ref().is_some_and(LivenessConfig::needs_flash);
        meta.check_usable(product, needs_flash).map_err(|e| ApiError::invalid("MetaInfo", e))?;

        for flag in [
            "AppQualityCheck",
            "Ocr",
            "ChameleonFrameEnable",
            "FaceAttributeCheck",
            "IdFaceQuality",
            "Crop",
            "NeedMultiFaceCheck",
            "UseNFC",
            "IdSpoof",
            "DocVideo",
        ] {
            p.yes_no(flag, false)?;
        }
        for flag in ["ShowGuidePage", "ShowOcrResult", "EditOcrResult", "OcrValueStandard"] {
            p.one_zero(flag, false)?;
        }
        p.one_of("DocScanMode", &["manual", "auto"], "manual")?;
        p.one_of("ProcedurePriority", &["url"], "url")?;
        let wants_url = meta.device_type.is_browser() || p.opt("ProcedurePriority").is_some();
        let id_threshold = p.one_of("IdThreshold", &["0", "1", "2", "3"], "3")?;
        let security_level = p.one_of("SecurityLevel", &["01", "02"], "01")?;
        let callback_url = params::url(&p, "CallbackUrl", true)?;
        let callback_token = p.text("CallbackToken", 128)?.map(str::to_owned);
        let return_url = params::url(&p, "ReturnUrl", false)?;
        let language = match p.text("LanguageConfig", 16)? {
            None => None,
            Some(l) => Some(
                crate::Language::parse(l)
                    .ok_or_else(|| ApiError::invalid("LanguageConfig", "not supported (supported: en, zh)"))?
                    .code()
                    .to_owned(),
            ),
        };
        let style_config = p.text("StyleConfig", 8192)?.map(str::to_owned);
        if let Some(s) = &style_config {
            crate::WebStyle::parse(s).map_err(|e| ApiError::invalid("StyleConfig", e))?;
        }
        let show_album_icon = p.one_zero("ShowAlbumIcon", false)?;
        let reference_face = reference_face(&p)?;
        if reference_face.is_some() && !product.needs_face() {
            return Err(ApiError::invalid(
                "FacePictureBase64",
                format!("a reference face has no use in product {}", product.code()),
            ));
        }

        Ok(InitializeRequest {
            merchant_biz_id,
            options: TransactionOptions {
                product,
                merchant_user_id: merchant_user_id.to_owned(),
                scene_code: p.opt("SceneCode").map(str::to_owned),
                doc_type,
                back_page,
                liveness,
                callback_url,
                callback_token,
                return_url,
                id_face_quality: p.yes_no("IdFaceQuality", false)?,
                id_threshold: id_threshold.to_owned(),
                security_level: security_level.to_owned(),
                show_ocr_result: p.one_zero("ShowOcrResult", false)?,
                edit_ocr_result: p.one_zero("EditOcrResult", false)?,
                language,
                style_config,
                show_album_icon,
                need_multi_face_check: p.yes_no("NeedMultiFaceCheck", false)?,
                crop: p.yes_no("Crop", false)?,
                device_type: meta.device_type.as_str().to_owned(),
                face_library: crate::face_library::FlowFaceLibrary::parse(&p, product.needs_face())?,
            },
            meta,
            reference_face,
            wants_url,
        })
    }
}

/// Initialize's `Result` object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct InitializeResult {
    pub transaction_id: String,
    pub protocol: String,
    pub client_cfg: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transaction_url: Option<String>,
}
