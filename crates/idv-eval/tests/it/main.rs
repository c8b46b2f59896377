//! Integration tests of idv-eval on the repository's assets (`scripts/fetch-assets.sh` fetches them): the
//! document evaluation on rendered specimens and the face evaluation over the test photos. The liveness
//! generator is exercised by idv-liveness's tests, the liveness evaluation by `idv liveness eval`'s test in
//! crates/idv.

mod common;
mod doc;
mod face;
mod replay;
