//! Integration tests of idv-liveness on real portraits (fetched by `scripts/fetch-assets.sh`) and on
//! sequences rendered from them by the synthetic generator of idv-eval (`idv_eval::liveness::synth`).

mod attacks;
mod common;
mod genuine;
mod measures;
