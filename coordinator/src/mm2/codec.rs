//! MirrorMaker 2's internal records, byte for byte.
//!
//! MM2 writes them with Kafka's protocol `Struct` encoding: fields in declaration order, no names,
//! tags or varints; INT16/32/64 big-endian; STRING = INT16 length + UTF-8 bytes (never null, at
//! most 32767 bytes). Readers ignore trailing bytes, so a newer MM2 may append fields.

use thiserror::Error;

/// The version MM2 writes in checkpoint and heartbeat values.
pub const VALUE_VERSION: i16 = 0;

/// A record that cannot be encoded or decoded in MM2's layout.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    #[error("{what}: string field is {len} bytes, at most {max} fit an INT16 length", max = i16::MAX)]
    StringTooLong { what: &'static str, len: usize },
    #[error("{what}: {needed} more bytes needed at byte {at}")]
    Truncated {
        what: &'static str,
        at: usize,
        needed: usize,
    },
    #[error("{what}: string field at byte {at} has negative length {len}")]
    NegativeLength {
        what: &'static str,
        at: usize,
        len: i16,
    },
    #[error("{what}: string field at byte {at} is not UTF-8")]
    NotUtf8 { what: &'static str, at: usize },
    #[error("{what}: unsupported value version {version}")]
    Version { what: &'static str, version: i16 },
}

/// Writes Struct fields.
struct Writer {
    what: &'static str,
    buf: Vec<u8>,
}

impl Writer {
    fn new(what: &'static str, capacity: usize) -> Self {
        Self {
            what,
            buf: Vec::with_capacity(capacity),
        }
    }

    fn string(mut self, s: &str) -> Result<Self, CodecError> {
        let len = i16::try_from(s.len()).map_err(|_| CodecError::StringTooLong {
            what: self.what,
            len: s.len(),
        })?;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        Ok(self)
    }

    fn i16(mut self, v: i16) -> Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn i32(mut self, v: i32) -> Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn i64(mut self, v: i64) -> Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
}

/// Reads Struct fields; trailing bytes are left unread (MM2's readers ignore them too).
struct Reader<'a> {
    what: &'static str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Self { what, bytes, at: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let end = self.at + N;
        let Some(slice) = self.bytes.get(self.at..end) else {
            return Err(CodecError::Truncated {
                what: self.what,
                at: self.at,
                needed: end - self.bytes.len(),
            });
        };
        self.at = end;
        Ok(slice.try_into().expect("slice of N bytes"))
    }

    fn i16(&mut self) -> Result<i16, CodecError> {
        Ok(i16::from_be_bytes(self.take()?))
    }

    fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.take()?))
    }

    fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_be_bytes(self.take()?))
    }

    fn string(&mut self) -> Result<String, CodecError> {
        let at = self.at;
        let len = self.i16()?;
        if len < 0 {
            return Err(CodecError::NegativeLength {
                what: self.what,
                at,
                len,
            });
        }
        let end = self.at + len as usize;
        let Some(slice) = self.bytes.get(self.at..end) else {
            return Err(CodecError::Truncated {
                what: self.what,
                at: self.at,
                needed: end - self.bytes.len(),
            });
        };
        let s = std::str::from_utf8(slice)
            .map_err(|_| CodecError::NotUtf8 {
                what: self.what,
                at,
            })?
            .to_owned();
        self.at = end;
        Ok(s)
    }
}

/// An offset sync (`mm2-offset-syncs.<cluster>.internal`): on the source partition
/// `topic`/`partition`, the record at `upstream_offset` was written to the remote partition at
/// `downstream_offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSync {
    /// The source topic (not renamed).
    pub topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
}

impl OffsetSync {
    /// Key: `topic STRING, partition INT32`.
    pub fn encode_key(&self) -> Result<Vec<u8>, CodecError> {
        Ok(Writer::new("offset sync key", 6 + self.topic.len())
            .string(&self.topic)?
            .i32(self.partition)
            .buf)
    }

    /// Value: `upstreamOffset INT64, offset INT64` (no version).
    pub fn encode_value(&self) -> Vec<u8> {
        Writer::new("offset sync value", 16)
            .i64(self.upstream_offset)
            .i64(self.downstream_offset)
            .buf
    }

    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, CodecError> {
        let mut k = Reader::new("offset sync key", key);
        let topic = k.string()?;
        let partition = k.i32()?;
        let mut v = Reader::new("offset sync value", value);
        Ok(Self {
            topic,
            partition,
            upstream_offset: v.i64()?,
            downstream_offset: v.i64()?,
        })
    }
}

/// A checkpoint (`<source>.checkpoints.internal` on the target): consumer group `group`, which
/// committed `upstream_offset` on the source partition, may resume from `downstream_offset` on the
/// remote partition `topic`/`partition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub group: String,
    /// The remote (downstream, renamed) topic.
    pub topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
    /// The commit's metadata string, "" when none.
    pub metadata: String,
}

impl Checkpoint {
    /// Key: `group STRING, topic STRING, partition INT32`.
    pub fn encode_key(&self) -> Result<Vec<u8>, CodecError> {
        Ok(
            Writer::new("checkpoint key", 8 + self.group.len() + self.topic.len())
                .string(&self.group)?
                .string(&self.topic)?
                .i32(self.partition)
                .buf,
        )
    }

    /// Value: `version INT16 = 0, upstreamOffset INT64, offset INT64, metadata STRING`.
    pub fn encode_value(&self) -> Result<Vec<u8>, CodecError> {
        Ok(Writer::new("checkpoint value", 20 + self.metadata.len())
            .i16(VALUE_VERSION)
            .i64(self.upstream_offset)
            .i64(self.downstream_offset)
            .string(&self.metadata)?
            .buf)
    }

    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, CodecError> {
        let mut k = Reader::new("checkpoint key", key);
        let group = k.string()?;
        let topic = k.string()?;
        let partition = k.i32()?;
        let mut v = Reader::new("checkpoint value", value);
        let version = v.i16()?;
        if version != VALUE_VERSION {
            return Err(CodecError::Version {
                what: "checkpoint value",
                version,
            });
        }
        Ok(Self {
            group,
            topic,
            partition,
            upstream_offset: v.i64()?,
            downstream_offset: v.i64()?,
            metadata: v.string()?,
        })
    }
}

/// A heartbeat (`heartbeats` on the target of every pair): `source` could reach `target` at
/// `timestamp_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub source_alias: String,
    pub target_alias: String,
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
}

impl Heartbeat {
    /// Key: `sourceClusterAlias STRING, targetClusterAlias STRING`.
    pub fn encode_key(&self) -> Result<Vec<u8>, CodecError> {
        Ok(Writer::new(
            "heartbeat key",
            4 + self.source_alias.len() + self.target_alias.len(),
        )
        .string(&self.source_alias)?
        .string(&self.target_alias)?
        .buf)
    }

    /// Value: `version INT16 = 0, timestamp INT64`.
    pub fn encode_value(&self) -> Vec<u8> {
        Writer::new("heartbeat value", 10)
            .i16(VALUE_VERSION)
            .i64(self.timestamp_ms)
            .buf
    }

    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, CodecError> {
        let mut k = Reader::new("heartbeat key", key);
        let source_alias = k.string()?;
        let target_alias = k.string()?;
        let mut v = Reader::new("heartbeat value", value);
        let version = v.i16()?;
        if version != VALUE_VERSION {
            return Err(CodecError::Version {
                what: "heartbeat value",
                version,
            });
        }
        Ok(Self {
            source_alias,
            target_alias,
            timestamp_ms: v.i64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The reference's example: orders/3, 100 -> 95.
    #[test]
    fn offset_sync_matches_the_reference_bytes() {
        let sync = OffsetSync {
            topic: "orders".into(),
            partition: 3,
            upstream_offset: 100,
            downstream_offset: 95,
        };
        let key = sync.encode_key().unwrap();
        let value = sync.encode_value();
        assert_eq!(hex(&key), "00 06 6f 72 64 65 72 73 00 00 00 03");
        assert_eq!(
            hex(&value),
            "00 00 00 00 00 00 00 64 00 00 00 00 00 00 00 5f"
        );
        assert_eq!(OffsetSync::decode(&key, &value).unwrap(), sync);
    }

    #[test]
    fn checkpoint_layout() {
        let cp = Checkpoint {
            group: "g1".into(),
            topic: "A.t".into(),
            partition: 1,
            upstream_offset: 7,
            downstream_offset: 0x0102,
            metadata: String::new(),
        };
        let key = cp.encode_key().unwrap();
        let value = cp.encode_value().unwrap();
        assert_eq!(
            hex(&key),
            "00 02 67 31 00 03 41 2e 74 00 00 00 01",
            "group STRING, topic STRING, partition INT32"
        );
        assert_eq!(
            hex(&value),
            "00 00 00 00 00 00 00 00 00 07 00 00 00 00 00 00 01 02 00 00",
            "version 0, upstream, downstream, empty metadata"
        );
        assert_eq!(value.len(), 2 + 8 + 8 + 2);
        assert_eq!(Checkpoint::decode(&key, &value).unwrap(), cp);

        let with_meta = Checkpoint {
            metadata: "m".into(),
            ..cp
        };
        let value = with_meta.encode_value().unwrap();
        assert_eq!(&value[18..], &[0, 1, b'm']);
        assert_eq!(Checkpoint::decode(&key, &value).unwrap(), with_meta);
    }

    #[test]
    fn heartbeat_layout() {
        let hb = Heartbeat {
            source_alias: "A".into(),
            target_alias: "B".into(),
            timestamp_ms: 1_600_000_000_123,
        };
        let key = hb.encode_key().unwrap();
        let value = hb.encode_value();
        assert_eq!(hex(&key), "00 01 41 00 01 42");
        // 1_600_000_000_123 = 0x0174_876E_807B
        assert_eq!(hex(&value), "00 00 00 00 01 74 87 6e 80 7b");
        assert_eq!(Heartbeat::decode(&key, &value).unwrap(), hb);
    }

    #[test]
    fn readers_ignore_trailing_bytes() {
        let hb = Heartbeat {
            source_alias: "A".into(),
            target_alias: "B".into(),
            timestamp_ms: 5,
        };
        let mut key = hb.encode_key().unwrap();
        let mut value = hb.encode_value();
        key.push(0xff);
        value.extend_from_slice(&[1, 2, 3]);
        assert_eq!(Heartbeat::decode(&key, &value).unwrap(), hb);
    }

    #[test]
    fn malformed_input_is_a_typed_error() {
        assert!(matches!(
            OffsetSync::decode(&[0, 6, b'o'], &[0; 16]),
            Err(CodecError::Truncated { .. })
        ));
        assert!(matches!(
            OffsetSync::decode(&[0xff, 0xff, 0, 0, 0, 0], &[0; 16]),
            Err(CodecError::NegativeLength { .. })
        ));
        assert!(matches!(
            Heartbeat::decode(&[0, 0, 0, 0], &[0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(CodecError::Version { version: 1, .. })
        ));
        assert!(matches!(
            Heartbeat::decode(&[0, 1, 0xc3, 0, 0], &[0; 10]),
            Err(CodecError::NotUtf8 { .. })
        ));
        let long = "x".repeat(40_000);
        let cp = Checkpoint {
            group: long,
            topic: "t".into(),
            partition: 0,
            upstream_offset: 0,
            downstream_offset: 0,
            metadata: String::new(),
        };
        assert!(matches!(
            cp.encode_key(),
            Err(CodecError::StringTooLong { len: 40_000, .. })
        ));
    }
}
