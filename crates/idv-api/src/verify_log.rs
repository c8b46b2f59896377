//! CheckVerifyLog: the drop-off log of one transaction (did the user finish, where did they stop, how many
//! retakes), built from the rounds the device flow recorded. Only steps, outcomes, reason codes and times are
//! used: nothing personal, so the log outlives the images (not the text: a `Text` or `All` deletion takes it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::params::{self, Params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckVerifyLogRequest {
    pub merchant_biz_id: Option<String>,
    pub transaction_id: String,
}

impl CheckVerifyLogRequest {
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let p = Params::new(map);
        let transaction_id = params::transaction_id(&p)?;
        let merchant_biz_id = if p.opt("MerchantBizId").is_some() { Some(params::merchant_biz_id(&p)?) } else { None };
        Ok(CheckVerifyLogRequest { merchant_biz_id, transaction_id })
    }
}

/// CheckVerifyLog's `Result` (every scalar a string, as the official SDK's model types them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CheckVerifyLogResult {
    /// `Y`/`N` once decided, empty before.
    pub passed: String,
    pub sub_code: String,
    /// `0` not started, `1` finished, `2` interrupted (cancelled or timed out after it started), `3` in progress.
    pub verify_status: String,
    /// The result code the client got (`1000` pass, `1001` fail, `1014` too many retakes, `1006` cancelled or
    /// timed out); empty while nothing ended.
    pub verify_error_code: String,
    /// Where the user was when the flow stopped (or is now); empty for a finished flow.
    pub interrupt_page: String,
    pub interrupt_page_en: String,
    pub log_info: Vec<String>,
    pub log_info_en: Vec<String>,
    pub log_statistics_info: String,
    pub ext_info: String,
}

/// How a transaction stands, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowStanding {
    NotStarted,
    InProgress,
    /// Completed or failed: decided.
    Finished,
    /// Cancelled by the user or timed out.
    Interrupted,
}

/// One recorded round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRound {
    pub round: u32,
    /// `DOC_FRONT`, `DOC_BACK`, `FACE`.
    pub step: String,
    /// `next`, `retake:<code>`, `done`, `exhausted`.
    pub outcome: String,
    pub at: i64,
}

/// The page a step is captured on: (Chinese, English), as the official log names pages.
fn page(step: Option<&str>) -> (&'static str, &'static str) {
    match step {
        None => ("加载页面", "LOADING"),
        Some("DOC_FRONT") => ("OCR拍摄证件正面页面", "OCR_FRONT"),
        Some("DOC_BACK") => ("OCR拍摄证件反面页面", "OCR_BACK"),
        Some("FACE") => ("人脸活体检测页面", "FACE"),
        Some(_) => ("未知页面", "UNKNOWN"),
    }
}

fn when(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| at.to_string())
}

/// The log of a transaction: its standing, its decision (passed, SubCode) when decided, the result code the
/// client got, the step it stands at (the next one to capture, `None` before any), its rounds and its creation
/// time.
pub fn verify_log(
    standing: FlowStanding,
    decision: Option<(bool, &str)>,
    client_result: Option<u32>,
    current_step: Option<&str>,
    rounds: &[LoggedRound],
    created_at: i64,
) -> CheckVerifyLogResult {
    let (mut zh, mut en) = (Vec::new(), Vec::new());
    zh.push(format!("{} 交易创建", when(created_at)));
    en.push(format!("{} transaction created", when(created_at)));
    let (mut doc_retakes, mut face_retakes) = (0u32, 0u32);
    let mut stay: Map<String, Value> = Map::new();
    let mut since = created_at;
    for r in rounds {
        let (zh_page, en_page) = page(Some(r.step.as_str()));
        let (zh_what, en_what) = match r.outcome.split_once(':') {
            Some(("retake", code)) => {
                if r.step == "FACE" {
                    face_retakes += 1;
                } else {
                    doc_retakes += 1;
                }
                (format!("重拍 {code}"), format!("retake {code}"))
            }
            _ => match r.outcome.as_str() {
                "next" => ("通过，进入下一步".to_owned(), "accepted, next step".to_owned()),
                "done" => ("流程结束".to_owned(), "flow ended".to_owned()),
                "exhausted" => ("重试次数用尽".to_owned(), "attempts exhausted".to_owned()),
                other => (other.to_owned(), other.to_owned()),
            },
        };
        zh.push(format!("{} 第{}轮 {zh_page} {zh_what}", when(r.at), r.round));
        en.push(format!("{} round {} {en_page} {en_what}", when(r.at), r.round));
        let secs = stay.get(en_page).and_then(Value::as_i64).unwrap_or(0) + (r.at - since).max(0);
        stay.insert(en_page.to_owned(), secs.into());
        since = r.at;
    }
    let (interrupt_zh, interrupt_en) = match standing {
        FlowStanding::Finished => ("", ""),
        _ => page(current_step),
    };
    let status = match standing {
        FlowStanding::NotStarted => "0",
        FlowStanding::Finished => "1",
        FlowStanding::Interrupted => "2",
        FlowStanding::InProgress => "3",
    };
    let stats = json!({
        "ocrOverTimes": doc_retakes,
        "hasOcrOverTimes": doc_retakes > 0,
        "faceOverTimes": face_retakes,
        "hasFaceOverTimes": face_retakes > 0,
        "pageStayTimeInfo": stay,
    });
    CheckVerifyLogResult {
        passed: decision.map_or("", |(p, _)| if p { "Y" } else { "N" }).to_owned(),
        sub_code: decision.map_or("", |(_, s)| s).to_owned(),
        verify_status: status.to_owned(),
        verify_error_code: client_result.map(|c| c.to_string()).unwrap_or_default(),
        interrupt_page: interrupt_zh.to_owned(),
        interrupt_page_en: interrupt_en.to_owned(),
        log_info: zh,
        log_info_en: en,
        log_statistics_info: stats.to_string(),
        ext_info: "{}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(n: u32, step: &str, outcome: &str, at: i64) -> LoggedRound {
        LoggedRound { round: n, step: step.into(), outcome: outcome.into(), at }
    }

    #[test]
    fn a_finished_flow_counts_retakes_and_times_per_page() {
        let rounds = [
            round(1, "DOC_FRONT", "retake:DOC_UNREADABLE", 1_700_000_010),
            round(2, "DOC_FRONT", "next", 1_700_000_020),
            round(3, "FACE", "retake:LIVENESS_ACTION_MISSING", 1_700_000_050),
            round(4, "FACE", "done", 1_700_000_070),
        ];
        let log = verify_log(FlowStanding::Finished, Some((true, "200")), Some(1000), None, &rounds, 1_700_000_000);
        assert_eq!(
            (log.passed.as_str(), log.verify_status.as_str(), log.verify_error_code.as_str()),
            ("Y", "1", "1000")
        );
        assert_eq!((log.interrupt_page.as_str(), log.interrupt_page_en.as_str()), ("", ""));
        let stats: Value = serde_json::from_str(&log.log_statistics_info).unwrap();
        assert_eq!(stats["ocrOverTimes"], 1);
        assert_eq!(stats["faceOverTimes"], 1);
        assert_eq!(stats["pageStayTimeInfo"], json!({"OCR_FRONT": 20, "FACE": 50}));
        assert_eq!(log.log_info_en.len(), 5);
        assert!(log.log_info_en[1].ends_with("round 1 OCR_FRONT retake DOC_UNREADABLE"), "{:?}", log.log_info_en);
        assert!(log.log_info[4].contains("第4轮"));
    }

    #[test]
    fn interrupted_and_not_started_flows_name_the_page() {
        let rounds = [round(1, "DOC_FRONT", "next", 100)];
        let log = verify_log(FlowStanding::Interrupted, Some((false, "208")), Some(1006), Some("FACE"), &rounds, 0);
        assert_eq!((log.verify_status.as_str(), log.interrupt_page_en.as_str()), ("2", "FACE"));
        let log = verify_log(FlowStanding::NotStarted, None, None, None, &[], 0);
        assert_eq!(
            (log.verify_status.as_str(), log.interrupt_page_en.as_str(), log.passed.as_str()),
            ("0", "LOADING", "")
        );
    }
}
