//! The PyPI `mrz==0.6.2` package (installed by scripts/setup-python.sh) as an independent implementation.

use std::io::Write;
use std::process::{Command, Stdio};

use idv_doc::mrz_read::{self, MrzFormat};
use idv_specimen::{CheckDigit, DocKind, Identity, SpecimenSpec, Validity, Ymd};

use crate::common::{TODAY, lines, repo_root, spec_assets};

fn python(script: &str, input: &str) -> String {
    let py = repo_root().join(".venv/bin/python");
    assert!(py.is_file(), "{} missing: run scripts/setup-python.sh", py.display());
    let mut child = Command::new(&py)
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed (is mrz==0.6.2 installed? run scripts/setup-python.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn yymmdd(d: Ymd) -> String {
    format!("{:02}{:02}{:02}", d.year % 100, d.month, d.day)
}

#[test]
fn zones_generated_by_python_mrz_decode_here_with_the_same_fields() {
    let ids: Vec<Identity> = (0..12).map(|s| Identity::generate(100 + s, TODAY, Validity::Valid)).collect();
    let mut input = String::new();
    for id in &ids {
        input.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            id.issuing_country,
            id.surname,
            id.given_names,
            id.document_number,
            id.nationality,
            yymmdd(id.birth_date),
            id.sex,
            yymmdd(id.expiry_date),
            id.personal_number.clone().unwrap_or_default()
        ));
    }
    let script = r#"
import sys
from mrz.generator.td3 import TD3CodeGenerator
from mrz.generator.td1 import TD1CodeGenerator
for line in sys.stdin.read().splitlines():
    cc, sn, gn, num, nat, dob, sex, exp, pn = line.split("\t")
    print(str(TD3CodeGenerator("P", cc, sn, gn, num, nat, dob, sex, exp, pn)).replace("\n", "|"))
    print(str(TD1CodeGenerator("I", cc, num, dob, sex, exp, nat, sn, gn, "", pn)).replace("\n", "|"))
"#;
    let out = python(script, &input);
    let zones: Vec<Vec<String>> = out.lines().map(|l| l.split('|').map(str::to_string).collect()).collect();
    assert_eq!(zones.len(), ids.len() * 2);
    for (i, id) in ids.iter().enumerate() {
        for (z, fmt) in [(&zones[2 * i], MrzFormat::Td3), (&zones[2 * i + 1], MrzFormat::Td1)] {
            let r = mrz_read::decode(fmt, &lines(z)).unwrap_or_else(|| panic!("{z:?}"));
            assert!(r.valid(), "{z:?}: {:?}", r.data.checks);
            assert_eq!(&r.lines, z);
            assert_eq!(r.data.document_number, id.document_number);
            assert_eq!(r.data.date_of_birth.to_string(), id.birth_date.to_string());
            assert_eq!(r.data.date_of_expiry.to_string(), id.expiry_date.to_string());
            assert_eq!(r.data.issuing_country.trim_end_matches('<'), id.issuing_country);
        }
    }
}

#[test]
fn zones_emitted_here_are_judged_by_python_mrz_valid_exactly_when_untampered() {
    let mut input = String::new();
    let mut expect = Vec::new();
    for seed in 0..8u64 {
        for kind in [DocKind::Td3, DocKind::Td1Back] {
            for wrong in [None, Some(CheckDigit::BirthDate), Some(CheckDigit::Composite)] {
                let mut spec = SpecimenSpec::new(kind, 200 + seed, TODAY);
                spec.tamper.wrong_check_digits = wrong.into_iter().collect();
                let t = idv_specimen::render(&spec, spec_assets()).unwrap().truth;
                input.push_str(&t.mrz.join("|"));
                input.push('\n');
                expect.push(wrong.is_none());
            }
        }
    }
    let script = r#"
import sys
from mrz.checker.td3 import TD3CodeChecker
from mrz.checker.td1 import TD1CodeChecker
for line in sys.stdin.read().splitlines():
    lines = line.split("|")
    checker = TD3CodeChecker if len(lines) == 2 else TD1CodeChecker
    print("Y" if bool(checker("\n".join(lines))) else "N")
"#;
    let out = python(script, &input);
    let got: Vec<bool> = out.lines().map(|l| l == "Y").collect();
    assert_eq!(got, expect);
}
