//! MRZ text comes from OCR of an attacker's picture: decoding and check-digit-guided repair must never panic
//! on any lines.

#![no_main]

use idv_doc::mrz_read::{LineRead, find};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<(f32, LineRead)> =
        text.split('\n').take(8).enumerate().map(|(i, l)| (i as f32 * 10.0, LineRead::from_text(l))).collect();
    if let Some(reading) = find(&lines) {
        assert!(!reading.lines.is_empty());
    }
});
