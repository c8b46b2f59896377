//! Integration tests of `idv-sdk`, one binary with a module per topic, against fake servers on loopback.
//!
//! - `session`: `DeviceSession` against a scripted device API.
//! - `merchant`: `MerchantClient` against a recording merchant API endpoint.
//! - `docs`: the examples in `docs/device-protocol.md`.

mod common;
mod docs;
mod merchant;
mod session;
