//! Integration tests of `idv-api`, one binary with a module per topic.
//!
//! - `vectors`: the six requests captured from the official SDKs (`tests/fixtures/signature-vectors.json`).
//! - `errors`: the specific error of each kind of bad request.
//! - `props`: round-trip / tamper properties of the client signers against the verifier.
//! - `wire_facts`: `docs/wire-facts.md` and the fixtures agree.

mod common;
mod errors;
mod props;
mod vectors;
mod wire_facts;
