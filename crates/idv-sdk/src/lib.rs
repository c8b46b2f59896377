//! The idv client.
//!
//! In the app:
//! 1. [`get_meta_info`] → send the string to your merchant server, which calls Initialize with it.
//! 2. Your server answers with `ClientCfg` → [`DeviceSession::new`] with a [`CaptureSource`] (your camera screen,
//!    or [`FileCapture`]) → [`DeviceSession::run`] (async) or [`DeviceSession::run_blocking`].
//! 3. The session ends with a result code (`docs/wire-facts.md#client-result-codes`, [`result_code`]); report it
//!    to your server, which asks CheckResult for the verdict. The app never sees the verdict itself.
//!
//! On the merchant server: [`MerchantClient`] signs Initialize and CheckResult like the official Alibaba Cloud
//! SDKs do.
//!
//! The device protocol is described in `docs/device-protocol.md`; its messages are `idv_protocol::device`.

mod capture;
mod merchant;
mod meta;
mod session;

pub use capture::{CaptureError, CaptureSource, CapturedFrame, DEFAULT_FRAME_INTERVAL_MS, FileCapture};
pub use idv_api::{CheckResultResult, InitializeResult};
pub use idv_protocol::device::{Challenge, Instruction, result_code};
pub use idv_protocol::{DeviceType, Step};
pub use merchant::{InitializeParams, MerchantClient, MerchantError};
pub use meta::{CAPABILITIES, DeviceFacts, SDK_VERSION, get_meta_info, sdk_version};
pub use session::{CancelHandle, DeviceSession, Event, NetworkPolicy, SessionResult};
