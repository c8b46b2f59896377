//! The document evaluation on rendered specimens.

use idv_eval::doc::evaluate_with;
use idv_eval::specimen::Ymd;

use crate::common::{doc_engine, spec_assets};

#[test]
fn evaluation_counts_reads_and_reports_no_wrong_but_valid_mrz() {
    let report = evaluate_with(doc_engine(), spec_assets(), 1, 77, Ymd::new(2026, 5, 1), &["clean", "phone"]).unwrap();
    let text = report.to_string();
    assert!(text.contains("MRZ exact on distorted conditions"), "{text}");
    assert_eq!(report.wrong_but_valid(), 0, "{text}");
    assert!(report.field_accuracy() > 90.0, "{text}");
}
