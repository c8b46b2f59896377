//! Integration tests of the `idv` binary, one test binary with a module per topic. Most run the real binary as a
//! process (`CARGO_BIN_EXE_idv`); the Python SDK tests need `.venv` (`scripts/setup-python.sh`).
//!
//! - `architecture`: the dependency rules of ARCHITECTURE.md, checked on `cargo metadata`, and its crate graph.
//! - `interop`: the official Alibaba Cloud Python SDKs against the real server.
//! - `admin_cli`: the admin CLI and `idv serve` refusing bad input.
//! - `audit_cli`: `idv admin audit verify` on an intact and on a tampered audit log.
//! - `engine_cli`: `idv face …` and `idv liveness eval`.
//! - `app_flow_cli`: the contracts of `idv device` and `idv merchant-demo` as processes.
//! - `whole_flow`: server, merchant demo and phone simulator together.
//! - `web_flow`: the hosted capture page in headless Chromium (needs `chromium`, `chromium-driver`).
//! - `console_flow`: the merchant console in headless Chromium, CheckResult after a review through the Python SDK.
//! - `mobile_flow`: the mobile SDK's library through its generated Python bindings, frames pushed as an app does.
//! - `server_actions`: EkycVerify, FaceCrossCompareIntl, KeepaliveIntl and the V2 variants through the official
//!   Python SDK, with real photos.
//! - `logs`: the server's debug log after failures of every kind holds no secret or personal data.

mod admin_cli;
mod app_flow_cli;
mod architecture;
mod audit_cli;
mod callbacks_cli;
mod common;
mod console_flow;
mod engine_cli;
mod face_library_sdk;
mod interop;
mod logs;
mod mobile_flow;
mod scale_out;
mod server_actions;
mod web_flow;
mod whole_flow;
