//! Integration tests of idv-vision on real files fetched by `scripts/fetch-assets.sh`.

mod assets;
mod common;
mod intake;
mod runtime;
