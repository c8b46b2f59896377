//! The merchant-side client: Initialize and CheckResult, signed with ACS3-HMAC-SHA256 exactly as the official
//! Alibaba Cloud SDKs sign them, so what works here works with them and the other way round. Runs on the merchant's
//! server, never in the app: it holds the AccessKey secret.

use std::collections::BTreeMap;
use std::time::Duration;

use idv_api::{API_VERSION, CheckResultResult, InitializeResult, SuccessBody};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Parameters of Initialize. Only the common ones are typed; any other parameter of the action goes in `extra`
/// under its wire name (`TemplateConfig`, `LanguageConfig`, `ReturnUrl`…).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitializeParams {
    /// `eKYC`, `eKYC_PRO`, `ID_OCR`, `FACE_LIVENESS`.
    pub product_code: String,
    /// Your own trace id for this attempt: 1-32 letters and digits.
    pub merchant_biz_id: String,
    /// Your user's id (ideally a hash of it).
    pub merchant_user_id: String,
    /// The app's `get_meta_info()` string, passed through unmodified.
    pub meta_info: String,
    pub doc_type: Option<String>,
    /// `LIVENESS` (default), `PHOTINUS_LIVENESS`, `TEMPLATE`.
    pub model: Option<String>,
    /// `01` or `01,02`.
    pub pages: Option<String>,
    pub scene_code: Option<String>,
    pub callback_url: Option<String>,
    pub callback_token: Option<String>,
    /// A reference face (Base64) to compare the selfie with.
    pub face_picture_base64: Option<String>,
    pub extra: BTreeMap<String, String>,
}

/// Parameters sent in the form body rather than the query: the official SDK does so for `FacePictureBase64`,
/// and images of several megabytes do not belong in a URL whatever the SDK's table says for `TargetFacePicture`.
const BODY_PARAMS: &[&str] = &["FacePictureBase64", "TargetFacePicture"];

type Params = BTreeMap<String, String>;

impl InitializeParams {
    /// The parameters on the wire: (query, form body).
    fn to_wire(&self) -> Result<(Params, Params), MerchantError> {
        let mut all = BTreeMap::new();
        let typed = [
            ("ProductCode", Some(&self.product_code)),
            ("MerchantBizId", Some(&self.merchant_biz_id)),
            ("MerchantUserId", Some(&self.merchant_user_id)),
            ("MetaInfo", Some(&self.meta_info)),
            ("DocType", self.doc_type.as_ref()),
            ("Model", self.model.as_ref()),
            ("Pages", self.pages.as_ref()),
            ("SceneCode", self.scene_code.as_ref()),
            ("CallbackUrl", self.callback_url.as_ref()),
            ("CallbackToken", self.callback_token.as_ref()),
            ("FacePictureBase64", self.face_picture_base64.as_ref()),
        ];
        for (name, value) in typed {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                all.insert(name.to_owned(), v.clone());
            }
        }
        for (name, value) in &self.extra {
            if typed.iter().any(|(t, _)| t == name) {
                return Err(MerchantError::InvalidRequest(format!(
                    "{name} has its own field in InitializeParams; do not repeat it in `extra`"
                )));
            }
            all.insert(name.clone(), value.clone());
        }
        let (body, query) = all.into_iter().partition(|(k, _)| BODY_PARAMS.contains(&k.as_str()));
        Ok((query, body))
    }
}

/// A failed merchant API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerchantError {
    /// idv answered with an error body: `code` is the API error code (`InvalidParameter`, `ProcessNotCompleted`,
    /// `SignatureDoesNotMatch`…), see docs/errors.md.
    #[error("{code}: {message} (HTTP {http_status}, RequestId {request_id})")]
    Api { http_status: u16, code: String, message: String, request_id: String },
    #[error("cannot reach idv: {0}")]
    Network(String),
    #[error("unexpected answer from idv (HTTP {http_status}): {detail}")]
    BadResponse { http_status: u16, detail: String },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl MerchantError {
    /// The API error code, when idv sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            MerchantError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// CheckResult before the flow has ended: ask again later (or wait for the callback).
    pub fn is_process_not_completed(&self) -> bool {
        self.code() == Some("ProcessNotCompleted")
    }
}

/// The error body; the official SDKs accept both key casings, so this does too.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "Code", alias = "code")]
    code: String,
    #[serde(rename = "Message", alias = "message", default)]
    message: String,
    #[serde(rename = "RequestId", alias = "requestId", default)]
    request_id: String,
}

/// Signs and sends merchant API calls to one idv endpoint.
#[derive(Clone)]
pub struct MerchantClient {
    base: reqwest::Url,
    host: String,
    access_key_id: String,
    access_key_secret: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for MerchantClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerchantClient")
            .field("endpoint", &self.base.as_str())
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl MerchantClient {
    /// `endpoint` is `host:port` as in the official SDK's `Config.endpoint` (sent as plain HTTP, like
    /// `protocol='HTTP'`), or a full `http://` / `https://` URL of the server root.
    pub fn new(
        endpoint: &str,
        access_key_id: impl Into<String>,
        access_key_secret: impl Into<String>,
    ) -> Result<Self, MerchantError> {
        let endpoint = endpoint.trim();
        let with_scheme = if endpoint.contains("://") { endpoint.to_owned() } else { format!("http://{endpoint}") };
        let bad = |why: &str| MerchantError::InvalidRequest(format!("endpoint \"{endpoint}\": {why}"));
        let base = reqwest::Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if base.path() != "/" || base.query().is_some() {
            return Err(bad("give the server root (host:port), without a path or query"));
        }
        let host_name = base.host_str().ok_or_else(|| bad("no host"))?;
        // The signed `host` must be what goes on the wire, where the URL parser has dropped a default port.
        let host = match base.port() {
            Some(p) => format!("{host_name}:{p}"),
            None => host_name.to_owned(),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| MerchantError::Network(e.to_string()))?;
        Ok(MerchantClient {
            base,
            host,
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            http,
        })
    }

    pub async fn initialize(&self, params: &InitializeParams) -> Result<InitializeResult, MerchantError> {
        let (query, body) = params.to_wire()?;
        self.call("Initialize", &query, &body).await
    }

    /// The verdict of a transaction. `merchant_biz_id` and `transaction_id` are the ones of your Initialize call
    /// (never a TransactionId reported by the app). Images come only with `return_image`.
    pub async fn check_result(
        &self,
        merchant_biz_id: &str,
        transaction_id: &str,
        return_image: bool,
    ) -> Result<CheckResultResult, MerchantError> {
        let query = BTreeMap::from([
            ("MerchantBizId".to_owned(), merchant_biz_id.to_owned()),
            ("TransactionId".to_owned(), transaction_id.to_owned()),
            ("IsReturnImage".to_owned(), if return_image { "Y" } else { "N" }.to_owned()),
        ]);
        self.call("CheckResult", &query, &BTreeMap::new()).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        action: &str,
        query: &BTreeMap<String, String>,
        body: &BTreeMap<String, String>,
    ) -> Result<T, MerchantError> {
        let signed = idv_api::sign::sign_acs3(
            "POST",
            &self.host,
            action,
            API_VERSION,
            query,
            body,
            &self.access_key_id,
            &self.access_key_secret,
            time::OffsetDateTime::now_utc(),
            &idv_crypto::random_hex(16),
        );
        let mut url = self.base.clone();
        url.set_query(Some(&signed.raw_query).filter(|q| !q.is_empty()).map(String::as_str));
        let mut req = self.http.post(url);
        for (name, value) in &signed.headers {
            // reqwest derives `host` from the URL, the same value that was signed.
            if !name.eq_ignore_ascii_case("host") {
                req = req.header(name, value);
            }
        }
        let resp = req.body(signed.body).send().await.map_err(|e| MerchantError::Network(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| MerchantError::Network(e.to_string()))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice::<SuccessBody<T>>(&bytes).map(|b| b.result).map_err(|e| {
                MerchantError::BadResponse { http_status: status, detail: format!("{action} answer: {e}") }
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(e) => Err(MerchantError::Api {
                http_status: status,
                code: e.code,
                message: e.message,
                request_id: e.request_id,
            }),
            Err(_) => Err(MerchantError::BadResponse {
                http_status: status,
                detail: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_parameters_go_in_the_body() {
        let p = InitializeParams {
            product_code: "eKYC".into(),
            merchant_biz_id: "b1".into(),
            merchant_user_id: "u1".into(),
            meta_info: "{}".into(),
            doc_type: Some("01000000".into()),
            face_picture_base64: Some("aGk=".into()),
            scene_code: Some(String::new()),
            extra: BTreeMap::from([("TargetFacePicture".into(), "aGk=".into()), ("Crop".into(), "Y".into())]),
            ..InitializeParams::default()
        };
        let (query, body) = p.to_wire().unwrap();
        assert_eq!(body.keys().collect::<Vec<_>>(), ["FacePictureBase64", "TargetFacePicture"]);
        assert_eq!(
            query.keys().collect::<Vec<_>>(),
            ["Crop", "DocType", "MerchantBizId", "MerchantUserId", "MetaInfo", "ProductCode"]
        );
        let dup = InitializeParams { extra: BTreeMap::from([("DocType".into(), "x".into())]), ..p };
        assert!(matches!(dup.to_wire(), Err(MerchantError::InvalidRequest(_))));
    }

    #[test]
    fn endpoints() {
        let c = MerchantClient::new("127.0.0.1:8080", "ak", "sk").unwrap();
        assert_eq!((c.base.as_str(), c.host.as_str()), ("http://127.0.0.1:8080/", "127.0.0.1:8080"));
        let c = MerchantClient::new("http://idv.example:80", "ak", "sk").unwrap();
        assert_eq!(c.host, "idv.example");
        assert!(MerchantClient::new("http://idv.example/api", "ak", "sk").is_err());
        assert!(MerchantClient::new("ftp://idv.example", "ak", "sk").is_err());
        assert!(!format!("{c:?}").contains("sk\""), "the secret must not be printed: {c:?}");
    }
}
