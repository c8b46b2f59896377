//! The idv SDK inside an Android or iOS app, exported with UniFFI (Kotlin, Swift; Python for the tests).
//!
//! The app:
//! 1. [`get_meta_info`] with the device facts → its merchant server → Initialize → `ClientCfg`.
//! 2. [`Verification::start`] with `ClientCfg` and a [`VerificationListener`]; the SDK's own thread runs the
//!    device flow (`idv-sdk`'s `DeviceSession`) and reports every step, piece of guidance, liveness prompt and
//!    colour as a [`VerificationEvent`] on that thread.
//! 3. [`Verification::push_frame`] for every camera frame; it never blocks (a frame that arrives while the SDK
//!    is busy is dropped, as a camera pipeline drops frames).
//! 4. [`VerificationEvent::Finished`] carries the result code; the merchant server asks CheckResult.
//!
//! `docs/mobile-sdk.md` is the integration guide.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod api;
mod capture;
mod frame;
mod guidance;

pub use api::*;
pub use capture::FACE_READY_FRAMES;

uniffi::setup_scaffolding!();

/// Receives the SDK's events, on an SDK thread (post to the UI thread to show them). Must return quickly.
#[uniffi::export(with_foreign)]
pub trait VerificationListener: Send + Sync {
    fn on_event(&self, event: VerificationEvent);
}

/// Frames waiting for the SDK thread: enough to ride out a JPEG encode, few enough to stay current.
const QUEUE_FRAMES: usize = 4;

/// The MetaInfo string for the merchant server's Initialize call.
#[uniffi::export]
pub fn get_meta_info(device: DeviceInfo) -> String {
    idv_sdk::get_meta_info(idv_sdk::DeviceFacts {
        device_type: match device.platform {
            Platform::Android => idv_sdk::DeviceType::Android,
            Platform::Ios => idv_sdk::DeviceType::Ios,
        },
        device_model: device.model,
        os_version: device.os_version,
        app_name: device.app_id,
        app_version: device.app_version,
        user_agent: None,
    })
}

/// The device-protocol version this SDK speaks.
#[uniffi::export]
pub fn sdk_version() -> String {
    idv_sdk::SDK_VERSION.to_owned()
}

#[uniffi::export]
pub fn default_options() -> VerificationOptions {
    let net = idv_sdk::NetworkPolicy::default();
    VerificationOptions {
        platform_face_detection: false,
        face_max_side: 720,
        document_max_side: 1920,
        network_max_attempts: net.max_attempts,
        network_base_delay_ms: net.base_delay.as_millis() as u64,
        request_timeout_ms: net.request_timeout.as_millis() as u64,
        frame_timeout_ms: 60_000,
    }
}

/// Where to draw the document guide on a `width` x `height` upright preview: the document checks look for the
/// document's edges on this rectangle.
#[uniffi::export]
pub fn document_frame(width: u32, height: u32) -> Rect {
    guidance::document_frame(width, height)
}

/// One verification (one transaction's capture flow), running on its own SDK thread from `start` on.
#[derive(uniffi::Object)]
pub struct Verification {
    frames: Mutex<Option<SyncSender<CameraFrame>>>,
    cancelled: Arc<AtomicBool>,
    session_cancel: idv_sdk::CancelHandle,
    transaction_id: String,
    dropped: AtomicU64,
}

#[uniffi::export]
impl Verification {
    /// Starts the flow for `client_cfg` (Initialize's `ClientCfg`, as the merchant server passed it on);
    /// `meta_info` is the string the app gave its server. Returns at once; events follow on `listener`.
    #[uniffi::constructor]
    pub fn start(
        client_cfg: String,
        meta_info: String,
        options: VerificationOptions,
        listener: Arc<dyn VerificationListener>,
    ) -> Arc<Self> {
        let (tx, rx) = sync_channel(QUEUE_FRAMES);
        let cancelled = Arc::new(AtomicBool::new(false));
        let emit: capture::Emit = {
            let l = listener.clone();
            Arc::new(move |e| l.on_event(e))
        };
        let source = capture::PushCapture::new(rx, emit.clone(), cancelled.clone(), options.clone());
        let policy = idv_sdk::NetworkPolicy {
            max_attempts: options.network_max_attempts.max(1),
            base_delay: Duration::from_millis(options.network_base_delay_ms),
            request_timeout: Duration::from_millis(options.request_timeout_ms.max(1)),
            ..idv_sdk::NetworkPolicy::default()
        };
        let mut session = idv_sdk::DeviceSession::new(&client_cfg, Box::new(source))
            .with_meta_info(meta_info)
            .with_network_policy(policy)
            .with_http_client_builder(http_client_builder());
        let this = Arc::new(Verification {
            frames: Mutex::new(Some(tx)),
            cancelled,
            session_cancel: session.cancel_handle(),
            transaction_id: session.transaction_id(),
            dropped: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&this);
        let run = move || {
            let result = session.run_blocking(&mut |e| {
                if let Some(e) = forward(e) {
                    emit(e)
                }
            });
            // No frame is taken after the end: pushes answer false from here on.
            if let Some(v) = weak.upgrade() {
                v.frames.lock().unwrap_or_else(|p| p.into_inner()).take();
            }
            emit(VerificationEvent::Finished {
                result: VerificationResult {
                    result_code: result.result_code,
                    transaction_id: result.transaction_id,
                    error_code: result.error_code,
                    message: result.message,
                },
            });
        };
        if let Err(e) = std::thread::Builder::new().name("idv-sdk".into()).spawn(run) {
            listener.on_event(VerificationEvent::Finished {
                result: VerificationResult {
                    result_code: idv_sdk::result_code::SYSTEM_ERROR,
                    transaction_id: this.transaction_id.clone(),
                    error_code: None,
                    message: format!("cannot start the SDK thread: {e}"),
                },
            });
        }
        this
    }

    /// Hands one camera frame to the SDK; never blocks. False when it was not taken: the SDK is still busy
    /// with earlier frames, or the verification is over.
    pub fn push_frame(&self, frame: CameraFrame) -> bool {
        let guard = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = guard.as_ref() else { return false };
        match tx.try_send(frame) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The user left: the SDK tells the server and ends with 1006.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.session_cancel.cancel();
    }

    pub fn transaction_id(&self) -> String {
        self.transaction_id.clone()
    }

    /// Frames not taken so far (pushed while the SDK was busy).
    pub fn dropped_frames(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The core session's events the app sees; its step starts are announced by the capture source (with the
/// challenge), its end with the whole result.
fn forward(e: idv_sdk::Event) -> Option<VerificationEvent> {
    match e {
        idv_sdk::Event::StepStarted { .. } | idv_sdk::Event::Finished { .. } => None,
        idv_sdk::Event::Retake { step, reason_code, reason, attempts_left, .. } => {
            Some(VerificationEvent::Retake { step: step.into(), reason_code, reason, attempts_left })
        }
        idv_sdk::Event::StepDone { step, .. } => Some(VerificationEvent::StepDone { step: step.into() }),
        idv_sdk::Event::NetworkRetry { attempt, max_attempts, delay_ms, reason } => {
            Some(VerificationEvent::NetworkRetry { attempt, max_attempts, delay_ms, reason })
        }
    }
}

/// HTTPS without the platform: rustls on ring with Mozilla's roots compiled in (`webpki-roots`), so the library
/// needs neither OpenSSL nor a JNI hook into Android's trust store.
fn http_client_builder() -> reqwest::ClientBuilder {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    match rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
        Ok(b) => {
            let tls = b.with_root_certificates(roots).with_no_client_auth();
            reqwest::Client::builder().tls_backend_preconfigured(tls)
        }
        Err(_) => reqwest::Client::builder(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_client_builds_without_a_process_provider() {
        http_client_builder().build().unwrap();
    }

    #[test]
    fn meta_info_names_the_platform() {
        let m = get_meta_info(DeviceInfo {
            platform: Platform::Ios,
            model: "iPhone15,2".into(),
            os_version: "17.4".into(),
            app_id: "com.example.shop".into(),
            app_version: "2.0".into(),
        });
        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(v["deviceType"], "ios");
        assert_eq!(v["deviceModel"], "iPhone15,2");
        assert_eq!(v["appName"], "com.example.shop");
    }
}
