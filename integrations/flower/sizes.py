"""What a Flower 1.42 message weighs, measured four ways (docs/FLOWER.md, "what each size means").

* ``objects`` — the content-addressed objects Flower 1.42's Fleet API moves: for every
  distinct object of the message (the ``Message``, its ``RecordDict``, each record, each
  ``Array`` and each ``ArrayChunk``), ``len(object.deflate())``. An object whose SHA-256 id
  the receiver already holds is not sent; :func:`message_sizes` takes those ids as ``held``.
* ``proto`` — ``message_to_proto(message).ByteSize()``, the whole message as one protobuf
  (Flower's pre-1.20 wire, and what ``PullMessages`` would carry without object streaming).
* ``npy`` — ``sum(len(array.data))``: the arrays as ``.npy`` serialised bytes (128-byte
  header each for a plain array), what ``ArrayRecord.count_bytes`` counts.
* ``raw`` — ``sum(numel * itemsize)``: the arrays' own bytes.

None of them includes the Fleet RPC envelopes (PullMessages/PushObject requests and
responses), gRPC, HTTP/2 or TLS framing, or heartbeats.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: What each size is, as run.json states it.
MEANINGS = {
    "objects": "Flower 1.42 Fleet API: sum of len(deflate()) of the content-addressed objects sent "
               "(Message, RecordDict, records, Arrays, ArrayChunks); an object the receiver already holds "
               "is not sent (uploads: objects identical to ones of the instruction they answer)",
    "proto": "message_to_proto(message).ByteSize(): the whole message as one protobuf",
    "npy": "sum of len(Array.data): the arrays as .npy bytes (ArrayRecord.count_bytes)",
    "raw": "sum of numel * itemsize of the arrays",
}
SIZES = tuple(MEANINGS)


@dataclass(frozen=True)
class MessageSizes:
    """One message's sizes in bytes, its array count and the ids of its objects."""

    objects: int
    proto: int
    npy: int
    raw: int
    arrays: int
    array_objects: int  # the part of ``objects`` that is Array and ArrayChunk objects (the rest: framing)
    object_ids: frozenset[str]

    def as_row(self, prefix: str) -> dict[str, int]:
        """``{prefix}_objects_bytes: ..., {prefix}_proto_bytes: ..., ...}``."""
        return {f"{prefix}_{name}_bytes": getattr(self, name) for name in SIZES} | {
            f"{prefix}_array_objects_bytes": self.array_objects, f"{prefix}_arrays": self.arrays}


def _arrays(message):
    from flwr.app import ArrayRecord

    for record in message.content.values():
        if isinstance(record, ArrayRecord):
            yield from record.values()


def message_sizes(message, held: frozenset[str] = frozenset()) -> MessageSizes:
    """The sizes of ``message``; objects whose ids are in ``held`` count zero in ``objects``."""
    from flwr.app import Array
    from flwr.app.message.arraychunk import ArrayChunk
    from flwr.common.serde import message_to_proto
    from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

    nested = get_all_nested_objects(message)
    sent = {oid: len(obj.deflate()) for oid, obj in nested.items() if oid not in held}
    of_arrays = sum(n for oid, n in sent.items() if isinstance(nested[oid], (Array, ArrayChunk)))
    arrays = list(_arrays(message))
    raw = sum(int(np.prod(a.shape, dtype=np.int64)) * np.dtype(a.dtype).itemsize for a in arrays)
    return MessageSizes(objects=sum(sent.values()), proto=message_to_proto(message).ByteSize(),
                        npy=sum(len(a.data) for a in arrays), raw=raw, arrays=len(arrays), array_objects=of_arrays,
                        object_ids=frozenset(nested))
