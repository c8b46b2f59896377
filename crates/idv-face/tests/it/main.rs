//! Integration tests of idv-face on real photos fetched by `scripts/fetch-assets.sh`.

mod common;
mod compare;
mod detection;
mod engine;
mod quality;
