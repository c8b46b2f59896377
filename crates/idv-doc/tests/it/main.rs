//! Document engine: MRZ decoding and repair, the PyPI `mrz` package as an independent oracle, and the full
//! pipeline on specimens rendered at test time (clean and distorted), including defects it must name. The
//! evaluation over rendered specimens is tested in idv-eval.

mod common;
mod defects;
mod formats;
mod lowres;
mod mrz_decoding;
mod oracle;
mod pipeline;
mod units;
