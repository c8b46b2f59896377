//! The flow and the policy, with no model loaded: every product's flow and every SubCode.

mod fixtures;
mod flow;
mod policy;
mod server_ekyc;
