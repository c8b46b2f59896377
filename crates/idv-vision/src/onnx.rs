//! Minimal ONNX (protobuf) rewriting done at model load time.
//!
//! Models exported with old tooling (SFace 2021dec among them) list every weight in `graph.input` as well as
//! in `graph.initializer`. ONNX Runtime must then treat the weights as overridable inputs and cannot
//! constant-fold them, which costs about 20% of SFace's inference time. Removing those entries from
//! `graph.input` makes them plain constants without changing what the model computes. Doing it here, on
//! the verified file's bytes, keeps the fetched file byte-identical to its registry package (so its sha256
//! stays checkable) and needs no Python step.
//!
//! Only the protobuf wire format is parsed; every field we do not touch is copied byte for byte.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use crate::error::{Result, VisionError};

const MODEL_GRAPH: u64 = 7;
const GRAPH_INITIALIZER: u64 = 5;
const GRAPH_INPUT: u64 = 11;
const TENSOR_NAME: u64 = 8;
const VALUE_INFO_NAME: u64 = 1;

const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_I32: u8 = 5;

struct Field {
    number: u64,
    wire: u8,
    /// The whole field, key included.
    whole: Range<usize>,
    /// The payload of a length-delimited field.
    payload: Range<usize>,
}

pub(crate) fn malformed(what: &str) -> VisionError {
    VisionError::MalformedModel(what.to_string())
}

pub(crate) fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos).ok_or_else(|| malformed("truncated varint"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(malformed("varint longer than 10 bytes"))
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn fields(buf: &[u8]) -> Result<Vec<Field>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let start = pos;
        let key = read_varint(buf, &mut pos)?;
        let wire = (key & 7) as u8;
        let number = key >> 3;
        let payload_start;
        match wire {
            WIRE_VARINT => {
                read_varint(buf, &mut pos)?;
                payload_start = pos;
            }
            WIRE_I64 => {
                pos += 8;
                payload_start = pos;
            }
            WIRE_I32 => {
                pos += 4;
                payload_start = pos;
            }
            WIRE_LEN => {
                let len = usize::try_from(read_varint(buf, &mut pos)?).map_err(|_| malformed("length overflow"))?;
                payload_start = pos;
                pos = pos.checked_add(len).ok_or_else(|| malformed("length overflow"))?;
            }
            _ => return Err(malformed("unsupported protobuf wire type")),
        }
        if pos > buf.len() {
            return Err(malformed("field runs past the end of its message"));
        }
        out.push(Field {
            number,
            wire,
            whole: start..pos,
            payload: if wire == WIRE_LEN { payload_start..pos } else { pos..pos },
        });
    }
    Ok(out)
}

fn string_field(msg: &[u8], number: u64) -> Result<Option<&[u8]>> {
    Ok(fields(msg)?.into_iter().find(|f| f.number == number && f.wire == WIRE_LEN).map(|f| &msg[f.payload]))
}

/// Returns the model with initializers removed from `graph.input` (borrowed unchanged when there are none),
/// and how many inputs were removed.
pub fn strip_initializer_inputs(model: &[u8]) -> Result<(Cow<'_, [u8]>, usize)> {
    let top = fields(model)?;
    let Some(graph_field) = top.iter().find(|f| f.number == MODEL_GRAPH && f.wire == WIRE_LEN) else {
        return Err(malformed("no graph in model"));
    };
    let graph = &model[graph_field.payload.clone()];
    let graph_fields = fields(graph)?;

    let mut initializers = HashSet::new();
    for f in graph_fields.iter().filter(|f| f.number == GRAPH_INITIALIZER && f.wire == WIRE_LEN) {
        if let Some(name) = string_field(&graph[f.payload.clone()], TENSOR_NAME)? {
            initializers.insert(name);
        }
    }
    let mut removed = 0;
    let mut new_graph = Vec::with_capacity(graph.len());
    for f in &graph_fields {
        if f.number == GRAPH_INPUT && f.wire == WIRE_LEN {
            let name = string_field(&graph[f.payload.clone()], VALUE_INFO_NAME)?;
            if name.is_some_and(|n| initializers.contains(n)) {
                removed += 1;
                continue;
            }
        }
        new_graph.extend_from_slice(&graph[f.whole.clone()]);
    }
    if removed == 0 {
        return Ok((Cow::Borrowed(model), 0));
    }

    let mut out = Vec::with_capacity(model.len());
    for f in &top {
        if std::ptr::eq(f, graph_field) {
            write_varint(&mut out, (MODEL_GRAPH << 3) | u64::from(WIRE_LEN));
            write_varint(&mut out, new_graph.len() as u64);
            out.extend_from_slice(&new_graph);
        } else {
            out.extend_from_slice(&model[f.whole.clone()]);
        }
    }
    Ok((Cow::Owned(out), removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len_field(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
        write_varint(out, (number << 3) | 2);
        write_varint(out, payload.len() as u64);
        out.extend_from_slice(payload);
    }

    fn named(number: u64, name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        len_field(&mut v, number, name.as_bytes());
        v
    }

    fn model(inputs: &[&str], inits: &[&str]) -> Vec<u8> {
        let mut graph = Vec::new();
        len_field(&mut graph, 2, b"g");
        for i in inputs {
            len_field(&mut graph, GRAPH_INPUT, &named(VALUE_INFO_NAME, i));
        }
        for i in inits {
            // data_type (varint field 2) before the name, as exporters write it.
            let mut t = vec![0x10, 0x01];
            t.extend(named(TENSOR_NAME, i));
            len_field(&mut graph, GRAPH_INITIALIZER, &t);
        }
        let mut m = vec![0x08, 0x06]; // ir_version = 6
        len_field(&mut m, MODEL_GRAPH, &graph);
        m
    }

    #[test]
    fn removes_only_inputs_that_are_initializers() {
        let m = model(&["data", "w1", "w2"], &["w1", "w2"]);
        let (out, removed) = strip_initializer_inputs(&m).unwrap();
        assert_eq!(removed, 2);
        assert_eq!(out.as_ref(), model(&["data"], &["w1", "w2"]).as_slice());
    }

    #[test]
    fn leaves_clean_models_untouched() {
        let m = model(&["data"], &["w1"]);
        let (out, removed) = strip_initializer_inputs(&m).unwrap();
        assert_eq!(removed, 0);
        assert!(matches!(out, Cow::Borrowed(_)));
    }

    #[test]
    fn rejects_garbage() {
        assert!(strip_initializer_inputs(&[0xFF, 0xFF, 0xFF]).is_err());
        assert!(strip_initializer_inputs(&[0x3A, 0x10, 0x00]).is_err());
    }
}
