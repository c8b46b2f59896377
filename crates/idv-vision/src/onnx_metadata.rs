//! Read `ModelProto.metadata_props` (key/value strings an exporter stored in the model file), e.g. the
//! PP-OCR recogniser's dictionary under the key `character`. Only the protobuf wire format is walked.

use crate::error::Result;

const MODEL_METADATA_PROPS: u64 = 14;
const ENTRY_KEY: u64 = 1;
const ENTRY_VALUE: u64 = 2;

use crate::onnx::{malformed, read_varint as varint};

/// Visits the top-level fields of one message: (field number, payload of length-delimited fields).
fn each_field<'a>(buf: &'a [u8], mut f: impl FnMut(u64, Option<&'a [u8]>)) -> Result<()> {
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (number, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                varint(buf, &mut pos)?;
                f(number, None);
            }
            1 => pos += 8,
            5 => pos += 4,
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|_| malformed("length overflow"))?;
                let end = pos.checked_add(len).filter(|&e| e <= buf.len());
                let end = end.ok_or_else(|| malformed("field runs past the end of its message"))?;
                f(number, Some(&buf[pos..end]));
                pos = end;
            }
            _ => return Err(malformed("unsupported protobuf wire type")),
        }
        if pos > buf.len() {
            return Err(malformed("field runs past the end of its message"));
        }
    }
    Ok(())
}

/// All metadata key/value pairs of an ONNX model, in file order.
pub fn metadata_props(model: &[u8]) -> Result<Vec<(String, String)>> {
    let mut entries = Vec::new();
    each_field(model, |n, payload| {
        if let (MODEL_METADATA_PROPS, Some(p)) = (n, payload) {
            entries.push(p);
        }
    })?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let (mut k, mut v) = (None, None);
        each_field(e, |n, payload| match (n, payload) {
            (ENTRY_KEY, Some(p)) => k = Some(p),
            (ENTRY_VALUE, Some(p)) => v = Some(p),
            _ => {}
        })?;
        let text = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
        out.push((text(k), text(v)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len_field(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
        out.push(((number << 3) | 2) as u8);
        out.push(payload.len() as u8);
        out.extend_from_slice(payload);
    }

    #[test]
    fn reads_entries_and_skips_other_fields() {
        let mut entry = Vec::new();
        len_field(&mut entry, ENTRY_KEY, b"character");
        len_field(&mut entry, ENTRY_VALUE, b"a\nb");
        let mut model = vec![0x08, 0x07]; // ir_version
        len_field(&mut model, 7, b"graph-bytes");
        len_field(&mut model, MODEL_METADATA_PROPS, &entry);
        assert_eq!(metadata_props(&model).unwrap(), vec![("character".into(), "a\nb".into())]);
    }

    #[test]
    fn rejects_truncated_input() {
        assert!(metadata_props(&[0x72, 0x10, 0x00]).is_err());
    }
}
