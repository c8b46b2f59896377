//! Integration tests of the specimen renderer, one binary with a module per topic: MRZ emitted correctly, defects
//! applied as asked, determinism, distortions.

mod common;
mod images;
mod mrz_emission;
mod printed;
