//! Memory a V1 request costs the verifier before any key is known. The V1 string to sign percent-encodes every
//! body parameter twice (up to 9 times its size), so building it for a 12 MiB body took ~120 MB per request.
//!
//! Its own test binary with one test: the counting allocator sees every allocation of the process, and another
//! test running in parallel would add to the peak.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use idv_api::ErrorCode;
use idv_api::sign::{Limits, parse, sign_rpc_v1_form};
use time::macros::datetime;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn v1_string_to_sign_is_not_built_in_memory() {
    const MIB: usize = 1024 * 1024;
    // '*' stays '*' in a form body but becomes "%252A" in the string to sign: the worst expansion an SDK sends.
    let big = "*".repeat(12 * MIB);
    let body = BTreeMap::from([("FacePictureBase64".to_owned(), big)]);
    let now = datetime!(2025-06-01 12:00:00 UTC);
    let mut wire =
        sign_rpc_v1_form("POST", "FaceCompare", "2022-08-09", &BTreeMap::new(), &body, "AK", "secret", now, "n1");
    drop(body);
    // The signer percent-encodes '*'; sent raw it decodes the same (so the signature holds) in a 12 MiB body.
    wire.body = [b"FacePictureBase64=".as_slice(), &[b'*'; 12 * MIB]].concat();
    let limits = Limits { max_value_len: 16 * MIB, ..Limits::default() };

    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let signed = parse(&wire.as_raw("POST"), &limits).unwrap();
    signed.verify("secret").unwrap();
    let err = signed.verify("wrong").unwrap_err();
    assert_eq!(err.code, ErrorCode::SignatureDoesNotMatch);
    assert!(err.message.len() < 64 * 1024, "the message echoes a bounded part: {} bytes", err.message.len());
    let grew = PEAK.load(Ordering::Relaxed) - baseline;
    drop(signed);
    println!("parse + verify peak: {} MiB over the request", grew / MIB);

    // The decoded parameters themselves are one copy of the body (12 MiB); anything up to twice that is overhead
    // of parsing, while building the string to sign took ten times the body or more.
    assert!(
        grew < 2 * wire.body.len(),
        "parsing and verifying took {} MiB for a {} MiB body",
        grew / MIB,
        wire.body.len() / MIB
    );
}
