//! apk-tools v3 "ADB" containers: the object tree inside an ADB block, the block framing,
//! deflate compression (`ADBd`) and the signature message.
//!
//! The writer lays out values exactly as apk-tools 3.0.2's `adb_w_*` functions do (values
//! appended in call order, each identical byte run written once, alignments of 1/2/4), so a
//! caller that makes the same calls in the same order as `apk mkpkg` / `apk mkndx` gets the
//! same ADB bytes. Facts: shared/design/apk-v3.md; the unit tests compare against files the
//! real apk wrote (tests/fixtures/).

use std::collections::HashMap;
use std::io::{Read, Write};

/// Schema ids in the file header (little-endian u32 of "pckg" / "indx").
pub const SCHEMA_PACKAGE: u32 = u32::from_le_bytes(*b"pckg");
pub const SCHEMA_INDEX: u32 = u32::from_le_bytes(*b"indx");

pub const MAGIC_PLAIN: &[u8; 4] = b"ADB.";
pub const MAGIC_DEFLATE: &[u8; 4] = b"ADBd";

pub const BLOCK_ADB: u32 = 0;
pub const BLOCK_SIG: u32 = 1;
pub const BLOCK_DATA: u32 = 2;

/// A value slot: 4 bits of type, 28 bits of immediate or offset into the ADB payload.
pub type Val = u32;
pub const NULL: Val = 0;

pub const T_SPECIAL: u32 = 0x0;
pub const T_INT: u32 = 0x1;
pub const T_INT32: u32 = 0x2;
pub const T_INT64: u32 = 0x3;
pub const T_BLOB8: u32 = 0x8;
pub const T_BLOB16: u32 = 0x9;
pub const T_BLOB32: u32 = 0xa;
pub const T_ARRAY: u32 = 0xd;
pub const T_OBJECT: u32 = 0xe;

const VALUE_MASK: u32 = 0x0fff_ffff;

pub fn val(ty: u32, v: usize) -> Val {
    debug_assert!(v as u64 <= u64::from(VALUE_MASK));
    (ty << 28) | (v as u32 & VALUE_MASK)
}

pub fn val_type(v: Val) -> u32 {
    v >> 28
}

pub fn val_value(v: Val) -> usize {
    (v & VALUE_MASK) as usize
}

/// Builds one ADB payload (the 8-byte header, then the values).
pub struct Writer {
    buf: Vec<u8>,
    /// Byte runs already written, for reuse: content -> offset (apk's bucket cache).
    seen: HashMap<Vec<u8>, usize>,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Writer {
        // compat version 0, version 0, reserved u16, root value (filled in by `root`).
        Writer {
            buf: vec![0; 8],
            seen: HashMap::new(),
        }
    }

    fn raw(&mut self, bytes: &[u8], align: usize) -> usize {
        let pad = (align - self.buf.len() % align) % align;
        self.buf.resize(self.buf.len() + pad, 0);
        let off = self.buf.len();
        self.buf.extend_from_slice(bytes);
        off
    }

    /// Writes `bytes` at an `align`ed offset unless the same run already sits at one.
    /// A run found only at a misaligned offset is written again and remembered at the new
    /// place, as adb_w_data does.
    fn data(&mut self, bytes: &[u8], align: usize) -> usize {
        if let Some(&off) = self.seen.get(bytes) {
            if off % align == 0 {
                return off;
            }
        }
        let off = self.raw(bytes, align);
        self.seen.insert(bytes.to_vec(), off);
        off
    }

    fn blob_bytes(b: &[u8]) -> Option<(Vec<u8>, usize, u32)> {
        let n = b.len();
        let (mut v, align, ty) = if n == 0 {
            return None;
        } else if n <= 0xff {
            (vec![n as u8], 1, T_BLOB8)
        } else if n <= 0xffff {
            ((n as u16).to_le_bytes().to_vec(), 2, T_BLOB16)
        } else {
            ((n as u32).to_le_bytes().to_vec(), 4, T_BLOB32)
        };
        v.extend_from_slice(b);
        Some((v, align, ty))
    }

    /// A string or byte blob; empty is NULL (field absent).
    pub fn blob(&mut self, b: &[u8]) -> Val {
        match Self::blob_bytes(b) {
            None => NULL,
            Some((v, align, ty)) => {
                let off = self.data(&v, align);
                val(ty, off)
            }
        }
    }

    /// A blob that is never shared with another value (apk writes the package's unique id
    /// this way so it can patch it in place).
    pub fn blob_unshared(&mut self, b: &[u8]) -> (Val, usize) {
        let (v, align, ty) = Self::blob_bytes(b).expect("non-empty blob");
        let hdr = v.len() - b.len();
        let off = self.raw(&v, align);
        (val(ty, off), off + hdr)
    }

    pub fn int(&mut self, n: u64) -> Val {
        if n >= 0x1_0000_0000 {
            let off = self.data(&n.to_le_bytes(), 4);
            val(T_INT64, off)
        } else if n >= 0x1000_0000 {
            let off = self.data(&(n as u32).to_le_bytes(), 4);
            val(T_INT32, off)
        } else {
            val(T_INT, n as usize)
        }
    }

    /// An object or array from its slots 1..; trailing NULLs are dropped and an empty one is
    /// NULL. `ty` is T_OBJECT or T_ARRAY (apk writes nested arrays with T_OBJECT at times;
    /// readers accept both).
    pub fn obj(&mut self, ty: u32, slots: &[Val]) -> Val {
        let n = slots.iter().rposition(|&v| v != NULL).map_or(0, |i| i + 1);
        if n == 0 {
            return NULL;
        }
        let mut b = Vec::with_capacity(4 * (n + 1));
        b.extend_from_slice(&(n as u32 + 1).to_le_bytes());
        for s in &slots[..n] {
            b.extend_from_slice(&s.to_le_bytes());
        }
        let off = self.data(&b, 4);
        val(ty, off)
    }

    /// Copies value `v` of another ADB payload into this one, as adb_w_copy does.
    pub fn copy(&mut self, src: &Reader, v: Val) -> Result<Val, String> {
        let ty = val_type(v);
        let (off, len, align) = match ty {
            T_SPECIAL | T_INT => return Ok(v),
            T_INT32 => (val_value(v), 4, 4),
            T_INT64 => (val_value(v), 8, 8),
            T_BLOB8 => (val_value(v), 1 + usize::from(src.u8_at(val_value(v))?), 1),
            T_BLOB16 => (val_value(v), 2 + usize::from(src.u16_at(val_value(v))?), 2),
            T_BLOB32 => (val_value(v), 4 + src.u32_at(val_value(v))? as usize, 4),
            T_OBJECT | T_ARRAY => {
                let raw = src.slots_raw(v)?;
                let mut b = Vec::with_capacity(4 * raw.len());
                b.extend_from_slice(&raw[0].to_le_bytes());
                for &c in &raw[1..] {
                    let c = self.copy(src, c)?;
                    b.extend_from_slice(&c.to_le_bytes());
                }
                let off = self.data(&b, 4);
                return Ok(val(ty, off));
            }
            _ => return Err(format!("cannot copy ADB value {v:#010x}")),
        };
        let bytes = src.bytes(off, len)?.to_vec();
        let off = self.data(&bytes, align);
        Ok(val(ty, off))
    }

    pub fn set_root(&mut self, root: Val) {
        self.buf[4..8].copy_from_slice(&root.to_le_bytes());
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Read access to an ADB payload.
pub struct Reader<'a> {
    pub buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Result<Reader<'a>, String> {
        if buf.len() < 8 {
            return Err("ADB payload shorter than its header".into());
        }
        if buf[0] != 0 {
            return Err(format!("ADB compat version {} is not 0", buf[0]));
        }
        Ok(Reader { buf })
    }

    pub fn root(&self) -> Val {
        u32::from_le_bytes(self.buf[4..8].try_into().expect("4 bytes"))
    }

    fn bytes(&self, off: usize, len: usize) -> Result<&'a [u8], String> {
        self.buf
            .get(off..off.checked_add(len).ok_or("ADB offset overflow")?)
            .ok_or_else(|| format!("ADB value at {off} (+{len}) is outside the payload"))
    }
    fn u8_at(&self, off: usize) -> Result<u8, String> {
        Ok(self.bytes(off, 1)?[0])
    }
    fn u16_at(&self, off: usize) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.bytes(off, 2)?.try_into().unwrap()))
    }
    fn u32_at(&self, off: usize) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.bytes(off, 4)?.try_into().unwrap()))
    }

    /// The blob's bytes; NULL reads as None.
    pub fn blob(&self, v: Val) -> Result<Option<&'a [u8]>, String> {
        let off = val_value(v);
        let (hdr, len) = match val_type(v) {
            T_SPECIAL if v == NULL => return Ok(None),
            T_BLOB8 => (1, usize::from(self.u8_at(off)?)),
            T_BLOB16 => (2, usize::from(self.u16_at(off)?)),
            T_BLOB32 => (4, self.u32_at(off)? as usize),
            _ => return Err(format!("ADB value {v:#010x} is not a blob")),
        };
        self.bytes(off + hdr, len).map(Some)
    }

    #[cfg(test)]
    pub fn int(&self, v: Val) -> Result<u64, String> {
        match val_type(v) {
            T_SPECIAL if v == NULL => Ok(0),
            T_INT => Ok(val_value(v) as u64),
            T_INT32 => Ok(u64::from(self.u32_at(val_value(v))?)),
            T_INT64 => Ok(u64::from_le_bytes(
                self.bytes(val_value(v), 8)?.try_into().unwrap(),
            )),
            _ => Err(format!("ADB value {v:#010x} is not an integer")),
        }
    }

    /// Slot list including slot 0 (the count).
    fn slots_raw(&self, v: Val) -> Result<Vec<Val>, String> {
        let off = val_value(v);
        let n = self.u32_at(off)? as usize;
        if n == 0 {
            return Err(format!("ADB object at {off} has no slots"));
        }
        let b = self.bytes(off, 4 * n)?;
        Ok(b.chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect())
    }

    /// Slots 1.. of an object or array (index i of the result is field i + 1); NULL is empty.
    pub fn slots(&self, v: Val) -> Result<Vec<Val>, String> {
        match val_type(v) {
            T_SPECIAL if v == NULL => Ok(Vec::new()),
            T_OBJECT | T_ARRAY => Ok(self.slots_raw(v)?[1..].to_vec()),
            _ => Err(format!("ADB value {v:#010x} is not an object")),
        }
    }

    /// Field `i` (1-based) of an object, NULL when absent.
    pub fn field(&self, obj: Val, i: usize) -> Result<Val, String> {
        Ok(self.slots(obj)?.get(i - 1).copied().unwrap_or(NULL))
    }
}

fn block_header(ty: u32, payload_len: usize) -> Result<[u8; 4], String> {
    let size = payload_len + 4;
    if size > 0x3fff_ffff {
        return Err("ADB block larger than 1 GiB".into());
    }
    Ok(((ty << 30) | size as u32).to_le_bytes())
}

/// Appends one block: header, payload, zero padding to a multiple of 8.
pub fn push_block(out: &mut Vec<u8>, ty: u32, parts: &[&[u8]]) -> Result<(), String> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.extend_from_slice(&block_header(ty, len)?);
    for p in parts {
        out.extend_from_slice(p);
    }
    let pad = (8 - (len + 4) % 8) % 8;
    out.resize(out.len() + pad, 0);
    Ok(())
}

/// The file header: "ADB." and the schema id.
pub fn file_header(schema: u32) -> Vec<u8> {
    let mut v = MAGIC_PLAIN.to_vec();
    v.extend_from_slice(&schema.to_le_bytes());
    v
}

/// `ADBd` + raw deflate (no zlib header) of the whole uncompressed stream, level 9 as apk's
/// default.
pub fn deflate(stream: &[u8]) -> Vec<u8> {
    let mut out = MAGIC_DEFLATE.to_vec();
    let mut enc = flate2::write::DeflateEncoder::new(&mut out, flate2::Compression::new(9));
    enc.write_all(stream).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec");
    out
}

/// The uncompressed stream of an ADB file, whichever of `ADB.` / `ADBd` it is.
pub fn decompress(file: &[u8]) -> Result<Vec<u8>, String> {
    match file.get(..4) {
        Some(m) if m == MAGIC_PLAIN => Ok(file.to_vec()),
        Some(m) if m == MAGIC_DEFLATE => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(&file[4..])
                .read_to_end(&mut out)
                .map_err(|e| format!("deflate: {e}"))?;
            if out.get(..4) != Some(MAGIC_PLAIN.as_slice()) {
                return Err("deflated stream does not start with ADB.".into());
            }
            Ok(out)
        }
        _ => Err("not an ADB file (ADB. or ADBd)".into()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block<'a> {
    pub ty: u32,
    pub payload: &'a [u8],
}

/// Splits an uncompressed stream into its schema and blocks (no extended headers: nothing
/// feedtool handles comes near 1 GiB).
pub fn parse(stream: &[u8]) -> Result<(u32, Vec<Block<'_>>), String> {
    if stream.len() < 8 || &stream[..4] != MAGIC_PLAIN {
        return Err("not an uncompressed ADB stream".into());
    }
    let schema = u32::from_le_bytes(stream[4..8].try_into().unwrap());
    let mut pos = 8;
    let mut blocks = Vec::new();
    while pos < stream.len() {
        let h = stream
            .get(pos..pos + 4)
            .ok_or("truncated ADB block header")?;
        let h = u32::from_le_bytes(h.try_into().unwrap());
        let ty = h >> 30;
        let size = (h & 0x3fff_ffff) as usize;
        if ty == 3 || size < 4 {
            return Err(format!("unsupported ADB block header {h:#010x}"));
        }
        let payload = stream
            .get(pos + 4..pos + size)
            .ok_or("truncated ADB block")?;
        blocks.push(Block { ty, payload });
        pos += size.div_ceil(8) * 8;
    }
    Ok((schema, blocks))
}

/// The bytes an ADB signature signs (apk's adb_digest_v0_signature input): schema id, the
/// 18-byte v0 signature header (version 0, hash algorithm 4 = SHA-512, key id), and the
/// SHA-512 of the ADB payload.
pub fn signed_message(schema: u32, key_id: &[u8; 16], adb_payload: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut m = Vec::with_capacity(86);
    m.extend_from_slice(&schema.to_le_bytes());
    m.extend_from_slice(&sig_header(key_id));
    m.extend_from_slice(&sha2::Sha512::digest(adb_payload));
    m
}

pub fn sig_header(key_id: &[u8; 16]) -> [u8; 18] {
    let mut h = [0u8; 18];
    h[0] = 0; // sign_ver
    h[1] = 4; // APK_DIGEST_SHA512
    h[2..].copy_from_slice(key_id);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_pick_the_smallest_encoding() {
        let mut w = Writer::new();
        assert_eq!(w.int(0), 0x1000_0000);
        assert_eq!(w.int(0x0fff_ffff), 0x1fff_ffff);
        let v = w.int(1_700_000_000);
        assert_eq!(val_type(v), T_INT32);
        let v2 = w.int(1_700_000_000);
        assert_eq!(v, v2, "identical runs are written once");
        let v64 = w.int(1 << 40);
        assert_eq!(val_type(v64), T_INT64);
        let b = w.finish();
        let r = Reader::new(&b).unwrap();
        assert_eq!(r.int(v).unwrap(), 1_700_000_000);
        assert_eq!(r.int(v64).unwrap(), 1 << 40);
    }

    #[test]
    fn blobs_and_objects_round_trip() {
        let mut w = Writer::new();
        assert_eq!(w.blob(b""), NULL);
        let a = w.blob(b"a");
        let big = w.blob(&[7u8; 300]);
        assert_eq!(val_type(big), T_BLOB16);
        assert_eq!(val_value(big) % 2, 0);
        let o = w.obj(T_OBJECT, &[a, NULL, big, NULL, NULL]);
        assert_eq!(w.obj(T_OBJECT, &[NULL, NULL]), NULL);
        let b = w.finish();
        let r = Reader::new(&b).unwrap();
        assert_eq!(r.slots(o).unwrap().len(), 3, "trailing NULLs dropped");
        assert_eq!(r.blob(r.field(o, 1).unwrap()).unwrap(), Some(&b"a"[..]));
        assert_eq!(r.field(o, 2).unwrap(), NULL);
        assert_eq!(r.blob(r.field(o, 3).unwrap()).unwrap().unwrap().len(), 300);
        assert_eq!(r.field(o, 9).unwrap(), NULL);
    }

    #[test]
    fn blocks_are_padded_to_8() {
        let mut s = file_header(SCHEMA_INDEX);
        push_block(&mut s, BLOCK_ADB, &[b"12345678", b"9"]).unwrap();
        push_block(&mut s, BLOCK_SIG, &[b"abcd"]).unwrap();
        assert_eq!(s.len(), 8 + 16 + 8);
        let (schema, blocks) = parse(&s).unwrap();
        assert_eq!(schema, SCHEMA_INDEX);
        assert_eq!(blocks[0].payload, b"123456789");
        assert_eq!(
            blocks[1],
            Block {
                ty: BLOCK_SIG,
                payload: b"abcd"
            }
        );
        assert_eq!(decompress(&deflate(&s)).unwrap(), s);
    }
}
