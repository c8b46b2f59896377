//! Printed-date parsing and the document types the engine is given (parsing DocType codes is idv-api's).

use idv_doc::fields::parse_printed_date;

#[test]
fn printed_dates_in_their_formats() {
    assert_eq!(parse_printed_date("12 AUG 1974", true, 2026), Some((1974, 8, 12)));
    assert_eq!(parse_printed_date("12 AUG/AOUT 74", true, 2026), Some((1974, 8, 12)));
    assert_eq!(parse_printed_date("12.08.1974", true, 2026), Some((1974, 8, 12)));
    assert_eq!(parse_printed_date("1974-08-12", true, 2026), Some((1974, 8, 12)));
    // A space lost by the recogniser.
    assert_eq!(parse_printed_date("12AUG 1974", true, 2026), Some((1974, 8, 12)));
    assert_eq!(parse_printed_date("12AUG1974", true, 2026), Some((1974, 8, 12)));
    assert_eq!(parse_printed_date("15 APR 32", false, 2026), Some((2032, 4, 15)));
    assert_eq!(parse_printed_date("31.02.2020", false, 2026), None);
    assert_eq!(parse_printed_date("PASSPORT", false, 2026), None);
}

#[test]
fn doc_types() {
    use idv_doc::{CardSide, DocClass, DocRequest, DocTypeSpec};
    let p = DocTypeSpec::passport("01000000");
    assert_eq!((p.code.as_str(), p.class, p.country), ("01000000", DocClass::Passport, None));
    let g = DocTypeSpec::passport("GLB03002");
    assert_eq!((g.class, g.country), (DocClass::Passport, None));
    let c = DocTypeSpec::id_card("GLB01001");
    assert_eq!((c.class, c.class.as_str()), (DocClass::IdCard, "id_card"));
    let req = DocRequest::new(c, mrz::Date::new(2026, 5, 1));
    assert_eq!((req.side, req.mrz_only), (CardSide::Front, false));
    assert_eq!(req.with_side(CardSide::Back).side, CardSide::Back);
}
