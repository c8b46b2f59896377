//! Device API request bodies come from anyone holding a client configuration: decoding them must never panic,
//! and what decodes must encode again.

#![no_main]

use idv_protocol::device::{RoundRequest, StartRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<RoundRequest>(data) {
        let again = serde_json::to_vec(&r).expect("a decoded round encodes");
        assert_eq!(serde_json::from_slice::<RoundRequest>(&again).ok(), Some(r));
    }
    if let Ok(s) = serde_json::from_slice::<StartRequest>(data) {
        let again = serde_json::to_vec(&s).expect("a decoded start encodes");
        assert_eq!(serde_json::from_slice::<StartRequest>(&again).ok(), Some(s));
    }
});
