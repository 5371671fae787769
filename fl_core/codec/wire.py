"""The wire format of every message: fixed header, method name, payload, CRC-32.

```
offset size field
0      4    magic b"FLNB"
4      2    format version (WIRE_VERSION)
6      2    payload codec: bit 15 dense fallback, bits 8-14 position stage id (0 = dense),
            bits 0-7 value stage id (fl_core.codec.stages); version 1 wrote 1 = dense-fp16,
            2 = sparse-golomb, 3 = sparse-raw, still read
8      4    round (int32)
12     4    sender (int32; -1 = server)
16     4    recipient (int32; -1 = server)
20     4    segment id (int32; -1 = whole vector)
24     8    offset of the covered slice in the flat adapter vector
32     8    length of the covered slice (elements)
40     8    layout fingerprint (fl_core.model.adapter.Layout.fingerprint)
48     4    k_A used (float32; 1.0 when not sparsified)
52     4    k_B used (float32)
56     2    length of the method name (bytes)
58     8    payload length (bytes)
66     n    method name (UTF-8)
..     p    payload
..     4    CRC-32 of everything before it
```
Never pickle: everything is explicit little-endian fields. Version 2 only changed the
meaning of the codec field; every version-1 message still decodes to the same header and
payload.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, replace

import torch

from fl_core.codec.payload import ByteAccount, SparseVector, codec_from_wire, get_codec
from fl_core.errors import CodecError, WireFormatError

MAGIC = b"FLNB"
WIRE_VERSION = 2
_V1_CODECS = {1: 0x0001, 2: 0x0101, 3: 0x0201}  # version 1 ids -> (position stage << 8) | value stage
_FALLBACK = 0x8000
_HEAD = struct.Struct("<4sHHiiiiQQ8sffHQ")
_CRC = struct.Struct("<I")
SERVER = -1


def overhead_bytes(method: str) -> int:
    """Bytes of a message that are not payload: fixed header, method name, CRC-32."""
    return _HEAD.size + len(method.encode()) + _CRC.size


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
    fallback: bool = False  # dense payload sent because it was smaller than the sparse one


@dataclass
class Encoded:
    """The bytes of a message and how they split into header, positions and values."""

    data: bytes
    header_bytes: int
    account: ByteAccount


def encode_message(header: Header, payload: SparseVector) -> Encoded:
    """Frame ``payload`` (a slice of the flat adapter of ``header.length`` elements) into bytes."""
    codec = get_codec(header.codec)
    if header.fallback and codec.positions is not None:
        raise CodecError(f"only a dense codec can be a fallback, not {header.codec}")
    if payload.length != header.length:
        raise CodecError(f"payload covers {payload.length} elements but the header says {header.length}")
    body, account = codec.encode(payload)
    account.fallback = header.fallback
    name = header.method.encode()
    head = _HEAD.pack(
        MAGIC, WIRE_VERSION, codec.wire_id | (_FALLBACK if header.fallback else 0), header.round, header.sender, header.recipient,
        header.segment, header.offset, header.length, header.fingerprint, header.k_a, header.k_b,
        len(name), len(body),
    ) + name
    framed = head + body
    data = framed + _CRC.pack(zlib.crc32(framed))
    return Encoded(data, len(head) + _CRC.size, account)


def encode_smallest(header: Header, payload: SparseVector, dense: torch.Tensor | None = None) -> Encoded:
    """Frame ``payload`` with ``header.codec``, or the dense codec of the same value stage when
    that message is strictly smaller (flagged ``fallback`` in the header and the byte account).

    ``dense`` is what the dense message carries (default: ``payload`` with zeros where nothing
    was kept); a sender that sparsified a vector passes the vector itself, so a fallback loses
    nothing. At fp16 a Golomb-coded upload crosses over near k = 0.94, 16-bit positions at
    k = 0.5 (docs/CODEC.md).
    """
    sparse = encode_message(header, payload)
    codec = get_codec(header.codec)
    if codec.positions is None or codec.values.size(payload.length) >= len(sparse.data) - sparse.header_bytes:
        return sparse
    vector = payload.to_dense() if dense is None else dense
    return encode_message(replace(header, codec=codec.dense.name, fallback=True), SparseVector.full(vector))


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
    if version < 1:
        raise WireFormatError(f"message format version {version} does not exist")
    expected = _HEAD.size + name_len + body_len + _CRC.size
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        raise WireFormatError(f"message {kind}: {len(data)} bytes, header announces {expected}")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(data[: -_CRC.size]) != crc:
        raise WireFormatError("message checksum mismatch: the bytes were corrupted in transit or on disk")
    fallback = version >= 2 and bool(codec_id & _FALLBACK)
    try:
        codec = codec_from_wire(_V1_CODECS.get(codec_id, -1) if version == 1 else codec_id & ~_FALLBACK)
    except CodecError as err:
        raise WireFormatError(f"unknown payload codec id {codec_id} in a version-{version} message") from err
    if fallback and codec.positions is not None:
        raise WireFormatError(f"fallback flag on the sparse codec {codec.name}")
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
    header = Header(method, rnd, sender, recipient, codec.name, fingerprint, offset, length, segment, k_a, k_b,
                    fallback)
    body = data[_HEAD.size + name_len : len(data) - _CRC.size]
    payload = codec.decode(body, length)
    return header, payload

