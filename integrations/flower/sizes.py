"""What a Flower 1.42 message weighs, measured five ways (docs/FLOWER.md, "what each size means").

* ``objects`` — the content-addressed objects Flower 1.42's Fleet API moves: for every
  distinct object of the message (the ``Message``, its ``RecordDict``, each record, each
  ``Array`` and each ``ArrayChunk``), ``len(object.deflate())``. Identical objects within one
  message travel once (e.g. LoRA B matrices that are all zeros).
* ``objects_held`` — the same, less the objects the receiver already holds (``held``). For an
  upload, the objects of the instruction it answers: the SuperLink skips them while it still
  holds them, which in 1.42 lasts only until every node of the round has confirmed its
  download (``confirm_message_received`` deletes the instruction) or, for another client's
  identical object, until the ServerApp has pulled that reply. A lower bound, timing-dependent.
* ``proto`` — ``message_to_proto(message).ByteSize()``, the whole message as one protobuf.
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
    "objects": "Flower 1.42 Fleet API: sum of len(deflate()) of the distinct content-addressed objects of the "
               "message (Message, RecordDict, records, Arrays, ArrayChunks); identical objects within it once",
    "objects_held": "objects, less those of the instruction an upload answers (skipped by the SuperLink only while "
                    "it still holds them: a timing-dependent lower bound; downloads: equal to objects)",
    "proto": "message_to_proto(message).ByteSize(): the whole message as one protobuf",
    "npy": "sum of len(Array.data): the arrays as .npy bytes (ArrayRecord.count_bytes)",
    "raw": "sum of numel * itemsize of the arrays",
}
SIZES = tuple(MEANINGS)


@dataclass(frozen=True)
class MessageSizes:
    """One message's sizes in bytes, its array count and the ids of its objects."""

    objects: int
    objects_held: int
    proto: int
    npy: int
    raw: int
    arrays: int
    array_objects: int  # the part of ``objects`` that is Array and ArrayChunk objects (the rest: framing)
    array_objects_held: int  # the same part of ``objects_held``
    object_ids: frozenset[str]

    def as_row(self, prefix: str) -> dict[str, int]:
        """``{prefix}_objects_bytes: ..., {prefix}_proto_bytes: ..., ...}``."""
        return {f"{prefix}_{name}_bytes": getattr(self, name) for name in SIZES} | {
            f"{prefix}_array_objects_bytes": self.array_objects,
            f"{prefix}_array_objects_held_bytes": self.array_objects_held, f"{prefix}_arrays": self.arrays}


def _arrays(message):
    from flwr.app import ArrayRecord

    for record in message.content.values():
        if isinstance(record, ArrayRecord):
            yield from record.values()


def message_sizes(message, held: frozenset[str] = frozenset()) -> MessageSizes:
    """The sizes of ``message``; objects whose ids are in ``held`` count zero in ``objects_held``."""
    from flwr.app import Array
    from flwr.app.message.arraychunk import ArrayChunk
    from flwr.common.serde import message_to_proto
    from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

    nested = get_all_nested_objects(message)
    size = {oid: len(obj.deflate()) for oid, obj in nested.items()}
    of_arrays = {oid for oid, obj in nested.items() if isinstance(obj, (Array, ArrayChunk))}
    arrays = list(_arrays(message))
    raw = sum(int(np.prod(a.shape, dtype=np.int64)) * np.dtype(a.dtype).itemsize for a in arrays)
    return MessageSizes(
        objects=sum(size.values()), objects_held=sum(n for oid, n in size.items() if oid not in held),
        proto=message_to_proto(message).ByteSize(), npy=sum(len(a.data) for a in arrays), raw=raw,
        arrays=len(arrays), array_objects=sum(size[oid] for oid in of_arrays),
        array_objects_held=sum(size[oid] for oid in of_arrays if oid not in held), object_ids=frozenset(nested))
