//! `idv device`: a phone simulator. It plays the merchant's app end to end — MetaInfo, `/app/start` on the merchant
//! server, the SDK session with images from files, `/app/finish` — so a deployment can be tried without a phone.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use idv_protocol::Product;
use idv_sdk::{
    CaptureError, CaptureSource, CapturedFrame, DeviceFacts, DeviceSession, DeviceType, Event, FileCapture,
    Instruction, Step, get_meta_info, result_code,
};
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct DeviceArgs {
    /// Base URL of the merchant server, e.g. http://127.0.0.1:9090 (`idv merchant-demo`).
    #[arg(long)]
    pub merchant: String,
    /// Image of the document's front page (JPEG or PNG).
    #[arg(long)]
    pub doc_front: Option<PathBuf>,
    /// Image of the document's back page, when the transaction asks for it.
    #[arg(long)]
    pub doc_back: Option<PathBuf>,
    /// Face frames: an image, or a directory of images used in name order; repeatable.
    #[arg(long)]
    pub face: Vec<PathBuf>,
    /// Instead of fixed face frames: a still portrait from which the simulator renders a live head performing
    /// whatever liveness challenge the server issues (synthetic genuine user, see idv-eval's `liveness::synth`).
    #[arg(long, conflicts_with = "face")]
    pub face_portrait: Option<PathBuf>,
    /// Folder holding `models/` (needed by --face-portrait to render the head).
    #[arg(long, env = "IDV_ASSETS_DIR", default_value = ".")]
    pub assets: PathBuf,
    #[arg(long, default_value = "eKYC")]
    pub product: String,
    #[arg(long, default_value = "01000000")]
    pub doc_type: String,
    /// Android version the simulated phone reports in its MetaInfo (idv refuses Android older than 7).
    #[arg(long, default_value = "14")]
    pub os_version: String,
    /// The user id the app reports to its merchant server.
    #[arg(long, default_value = "device-sim")]
    pub user_id: String,
    /// Print the merchant's answer as one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn step_name(step: Step) -> &'static str {
    match step {
        Step::DocFront => "DOC_FRONT",
        Step::DocBack => "DOC_BACK",
        Step::Face => "FACE",
    }
}

fn meaning(code: u32) -> &'static str {
    match code {
        result_code::PASS => "completed, pass suggested",
        result_code::FAIL => "completed, fail suggested",
        result_code::SYSTEM_ERROR => "system error",
        result_code::INIT_FAILED => "initialisation failed",
        result_code::CAMERA_ERROR => "capture error",
        result_code::NETWORK_ERROR => "network error",
        result_code::CANCELLED_OR_TIMEOUT => "cancelled or timed out",
        result_code::INVALID_TRANSACTION => "transaction invalid or in use",
        result_code::WRONG_DOCUMENT => "wrong document type",
        result_code::POOR_QUALITY => "image quality too poor",
        result_code::TOO_MANY_ERRORS => "too many failed attempts",
        _ => "unknown code",
    }
}

/// One progress line per event, for stderr.
fn describe(e: &Event) -> String {
    match e {
        Event::StepStarted { round, step, hint, frames_wanted, attempts_left } => format!(
            "[round {round}] {}: capturing {frames_wanted} frame(s), {attempts_left} attempt(s) left: {hint}",
            step_name(*step)
        ),
        Event::Retake { round, step, reason_code, reason, next_round, .. } => format!(
            "[round {round}] {}: retake ({reason_code}: {reason}); again as round {next_round}",
            step_name(*step)
        ),
        Event::StepDone { round, step } => format!("[round {round}] {}: done", step_name(*step)),
        Event::NetworkRetry { attempt, max_attempts, delay_ms, reason } => {
            format!("[network] attempt {attempt}/{max_attempts} failed ({reason}); retrying in {delay_ms} ms")
        }
        Event::Finished { result_code } => format!("finished: result code {result_code} ({})", meaning(*result_code)),
    }
}

/// A capture source whose face frames are rendered on demand from a still portrait: the head performs the
/// challenge the server issued (blinks, turns, mouth, distance, under the flashed colours). Documents come from
/// files.
struct LiveHead {
    files: FileCapture,
    portrait: idv_eval::liveness::synth::Portrait,
    seed: u64,
}

impl LiveHead {
    fn new(files: FileCapture, portrait: &std::path::Path, assets: &std::path::Path) -> Result<LiveHead> {
        let assets = idv_vision::Assets::new(assets);
        let face = std::sync::Arc::new(idv_face::FaceEngine::load(&assets, Default::default())?);
        let engine = idv_liveness::LivenessEngine::load(&assets, face.clone(), Default::default())?;
        let bytes = std::fs::read(portrait).with_context(|| format!("reading {}", portrait.display()))?;
        let still = face.decode(&bytes)?;
        let name = portrait.file_stem().and_then(|s| s.to_str()).unwrap_or("portrait");
        let portrait = idv_eval::liveness::synth::Portrait::new(&engine, name, &still, 480, 640)
            .with_context(|| format!("{}: no usable face to animate", portrait.display()))?;
        Ok(LiveHead { files, portrait, seed: 1 })
    }
}

impl CaptureSource for LiveHead {
    fn capture(&mut self, instruction: &Instruction) -> Result<Vec<CapturedFrame>, CaptureError> {
        let Some(challenge) = instruction.challenge.as_ref().filter(|_| instruction.step == Step::Face) else {
            return self.files.capture(instruction);
        };
        let spec = idv_server::challenge_spec(challenge).map_err(|e| CaptureError(e.to_string()))?;
        // A camera never delivers the same bytes twice; the server remembers frame digests across
        // transactions, so each round's rendering is seeded by its single-use nonce.
        self.seed += 1;
        let nonce_seed = instruction
            .nonce
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let session = idv_eval::liveness::synth::genuine(&self.portrait, &spec, self.seed ^ nonce_seed);
        let frames = session.encode_jpeg(90).map_err(|e| CaptureError(e.to_string()))?;
        Ok(frames.into_iter().map(|(bytes, t_ms)| CapturedFrame { bytes, t_ms }).collect())
    }
}

async fn post_json(http: &reqwest::Client, url: &str, body: &Value) -> Result<Value> {
    let resp = http.post(url).json(body).send().await.with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.text().await.with_context(|| format!("reading the answer of {url}"))?;
    if !status.is_success() {
        bail!("{url} answered HTTP {}: {}", status.as_u16(), text.chars().take(500).collect::<String>());
    }
    serde_json::from_str(&text).with_context(|| format!("{url} answered something that is not JSON: {text:.200}"))
}

pub async fn run(args: DeviceArgs) -> Result<()> {
    let product = Product::from_code(&args.product)
        .with_context(|| format!("--product {} is not one of eKYC, eKYC_PRO, ID_OCR, FACE_LIVENESS", args.product))?;
    let mut capture = FileCapture::new();
    match (&args.doc_front, product.needs_document()) {
        (Some(f), _) => capture = capture.doc_front(f),
        (None, true) => bail!("--doc-front is required for product {}", product.code()),
        (None, false) => {}
    }
    if let Some(b) = &args.doc_back {
        capture = capture.doc_back(b);
    }
    if product.needs_face() && args.face.is_empty() && args.face_portrait.is_none() {
        bail!("--face or --face-portrait is required for product {}", product.code());
    }
    for f in &args.face {
        capture = capture.face(f).map_err(|e| anyhow::anyhow!("--face {}: {e}", f.display()))?;
    }
    let capture: Box<dyn CaptureSource> = match &args.face_portrait {
        Some(p) => Box::new(LiveHead::new(capture, p, &args.assets)?),
        None => Box::new(capture),
    };

    let merchant = args.merchant.trim_end_matches('/');
    let meta_info = get_meta_info(DeviceFacts {
        device_type: DeviceType::Android,
        device_model: "idv device simulator".into(),
        os_version: args.os_version.clone(),
        app_name: "idv.device.sim".into(),
        app_version: env!("CARGO_PKG_VERSION").into(),
        user_agent: None,
    });
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;

    let mut start = json!({"metaInfo": meta_info, "productCode": product.code(), "userId": args.user_id});
    if product.needs_document() {
        start["docType"] = args.doc_type.clone().into();
    }
    let started = match post_json(&http, &format!("{merchant}/app/start"), &start).await {
        Ok(v) => v,
        // The merchant could not initialize a transaction for this device (idv refused it): to the app that is
        // an initialisation failure, result code 1003, and the flow never starts.
        Err(e) if e.to_string().contains("HTTP 400") => {
            eprintln!("{e:#}");
            let answer = json!({"resultCode": result_code::INIT_FAILED, "error": e.to_string()});
            println!(
                "{}",
                if args.json { answer.to_string() } else { format!("result code 1003 (initialisation failed): {e}") }
            );
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let (Some(transaction_id), Some(client_cfg)) = (started["transactionId"].as_str(), started["clientCfg"].as_str())
    else {
        bail!("{merchant}/app/start answered without transactionId and clientCfg: {started}");
    };
    eprintln!("transaction {transaction_id}");

    let mut session = DeviceSession::new(client_cfg, capture).with_meta_info(meta_info);
    // Ctrl-C is the user leaving the capture screen: the session tells the server and ends with 1006.
    let cancel = session.cancel_handle();
    let on_ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("cancelling…");
            cancel.cancel();
        }
    });
    let result = session.run(&mut |e| eprintln!("{}", describe(&e))).await;
    on_ctrl_c.abort();
    if !result.message.is_empty() && result.result_code != result_code::PASS && result.result_code != result_code::FAIL
    {
        eprintln!("  ({})", result.message);
    }

    let finish = json!({"transactionId": transaction_id, "resultCode": result.result_code});
    let answer = post_json(&http, &format!("{merchant}/app/finish"), &finish).await?;
    if args.json {
        println!("{answer}");
    } else if let Some(fields) = answer.as_object() {
        for (k, v) in fields {
            println!("{k}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_owned));
        }
    } else {
        println!("{answer}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_name_the_round_step_and_reason() {
        let retake = Event::Retake {
            round: 2,
            step: Step::DocFront,
            reason_code: "blurry".into(),
            reason: "The photo is blurry".into(),
            next_round: 3,
            hint: String::new(),
            attempts_left: 2,
        };
        assert_eq!(describe(&retake), "[round 2] DOC_FRONT: retake (blurry: The photo is blurry); again as round 3");
        assert_eq!(describe(&Event::Finished { result_code: 1005 }), "finished: result code 1005 (network error)");
    }
}
