//! Every picture is untrusted bytes: the header probe and the decoder must never panic, and never decode past
//! the limits (a decompression bomb must cost a header parse, not the claimed canvas).

#![no_main]

use idv_vision::{DecodeLimits, decode, probe};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits { max_bytes: 1 << 20, max_pixels: 1 << 20, min_side: 1 };
    let probed = probe(data, &limits);
    if let Ok(img) = decode(data, &limits) {
        assert!(u64::from(img.width()) * u64::from(img.height()) <= limits.max_pixels);
        assert!(probed.is_ok(), "what decodes also probes");
    }
});
