"""The wire format of every message: fixed header, method name, payload, CRC-32.

```
offset size field
0      4    magic b"FLNB"
4      2    format version (WIRE_VERSION)
6      2    payload codec id (see fl_core.codec.payload.CODECS)
8      4    round (int32)
12     4    sender (int32; -1 = server)
16     4    recipient (int32; -1 = server)
20     4    segment id (int32; -1 = whole vector)
24     8    offset of the covered slice in the flat adapter vector
32     8    length of the covered slice (elements)
40     8    layout fingerprint (fl_core.adapter.Layout.fingerprint)
48     4    k_A used (float32; 1.0 when not sparsified)
52     4    k_B used (float32)
56     2    length of the method name (bytes)
58     8    payload length (bytes)
66     n    method name (UTF-8)
..     p    payload
..     4    CRC-32 of everything before it
```
Never pickle: everything is explicit little-endian fields.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from fl_core.codec.payload import CODECS, ByteAccount, SparseVector
from fl_core.errors import CodecError, WireFormatError

MAGIC = b"FLNB"
WIRE_VERSION = 1
_HEAD = struct.Struct("<4sHHiiiiQQ8sffHQ")
_CRC = struct.Struct("<I")
SERVER = -1


@dataclass(frozen=True)
class Header:
    """What a message says about itself."""

    method: str
    round: int
    sender: int
    recipient: int
    codec: str
    fingerprint: bytes
    offset: int
    length: int
    segment: int = -1
    k_a: float = 1.0
    k_b: float = 1.0


@dataclass
class Encoded:
    """The bytes of a message and how they split into header, positions and values."""

    data: bytes
    header_bytes: int
    account: ByteAccount


def encode_message(header: Header, payload: SparseVector) -> Encoded:
    """Frame ``payload`` (a slice of the flat adapter of ``header.length`` elements) into bytes."""
    from fl_core.codec.payload import CODECS_BY_NAME

    codec = CODECS_BY_NAME[header.codec]
    if payload.length != header.length:
        raise CodecError(f"payload covers {payload.length} elements but the header says {header.length}")
    body, account = codec.encode(payload)
    name = header.method.encode()
    head = _HEAD.pack(
        MAGIC, WIRE_VERSION, codec.codec_id, header.round, header.sender, header.recipient,
        header.segment, header.offset, header.length, header.fingerprint, header.k_a, header.k_b,
        len(name), len(body),
    ) + name
    framed = head + body
    data = framed + _CRC.pack(zlib.crc32(framed))
    return Encoded(data, len(head) + _CRC.size, account)


def decode_message(
    data: bytes, expected_fingerprint: bytes | None = None, vector_length: int | None = None
) -> tuple[Header, SparseVector]:
    """Parse and verify a message; raise ``WireFormatError``/``CodecError`` naming what is wrong.

    With ``vector_length`` (the receiver's flat adapter size) a slice reaching past it is
    refused before anything is allocated.
    """
    data = bytes(data)
    if len(data) < _HEAD.size + _CRC.size:
        raise WireFormatError(f"message truncated: {len(data)} bytes, a header alone needs {_HEAD.size + _CRC.size}")
    (magic, version, codec_id, rnd, sender, recipient, segment, offset, length,
     fingerprint, k_a, k_b, name_len, body_len) = _HEAD.unpack_from(data)
    if magic != MAGIC:
        raise WireFormatError(f"not a netbench message: magic {magic!r} != {MAGIC!r}")
    if version > WIRE_VERSION:
        raise WireFormatError(f"message format version {version} is newer than this netbench reads ({WIRE_VERSION})")
    expected = _HEAD.size + name_len + body_len + _CRC.size
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        raise WireFormatError(f"message {kind}: {len(data)} bytes, header announces {expected}")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(data[: -_CRC.size]) != crc:
        raise WireFormatError("message checksum mismatch: the bytes were corrupted in transit or on disk")
    if codec_id not in CODECS:
        raise WireFormatError(f"unknown payload codec id {codec_id}")
    if expected_fingerprint is not None and fingerprint != expected_fingerprint:
        raise WireFormatError(
            f"adapter layout fingerprint {fingerprint.hex()} does not match the receiver's {expected_fingerprint.hex()}"
        )
    if vector_length is not None and offset + length > vector_length:
        raise WireFormatError(
            f"message covers elements [{offset}, {offset + length}) beyond the receiver's {vector_length}"
        )
    try:
        method = data[_HEAD.size : _HEAD.size + name_len].decode()
    except UnicodeDecodeError:
        raise WireFormatError("method name in the header is not UTF-8") from None
    codec = CODECS[codec_id]
    header = Header(method, rnd, sender, recipient, codec.name, fingerprint, offset, length, segment, k_a, k_b)
    body = data[_HEAD.size + name_len : len(data) - _CRC.size]
    payload = codec.decode(body, length)
    return header, payload

