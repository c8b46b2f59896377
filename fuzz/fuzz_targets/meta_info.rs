//! MetaInfo arrives from the app through the merchant's server (Initialize) and again from the device (start):
//! parsing and the usability check must never panic, whatever the string.

#![no_main]

use idv_protocol::{MetaInfo, Product};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(meta) = MetaInfo::parse(s) {
        for product in Product::ALL {
            let _ = meta.check_usable(product, data.len() % 2 == 0);
        }
    }
});
