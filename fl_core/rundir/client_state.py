"""Per-client state that persists across rounds, on disk so 100+ clients never sit in memory.

Each client's state is one safetensors file (tensors plus integer metadata, no pickle).
Writes of round t go to a staging folder tagged with t. The loop records the round
(results, then checkpoint), then commits the staging folder. On start-up a staging folder
of the checkpointed round is committed (the crash came between checkpoint and commit);
any other staging folder belongs to an unrecorded round and is discarded.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


@dataclass
class ClientState:
    """What a client keeps between its participations."""

    last_round: int = -1  # tau of Eq. 3; -1 = never participated
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)  # local adapter, residuals, ...


class ClientStore:
    """Committed client states in ``root/clients``; a round's new states staged in ``root/staging``."""

    def __init__(self, root: Path, completed_round: int = -1) -> None:
        self.committed = Path(root) / "clients"
        self.staging = Path(root) / "staging"
        self.committed.mkdir(parents=True, exist_ok=True)
        tag = self.staging / "ROUND"
        if tag.is_file() and int(tag.read_text()) == completed_round:
            self.commit()
        shutil.rmtree(self.staging, ignore_errors=True)

    def begin_round(self, round_idx: int) -> None:
        """Start staging the states of ``round_idx``."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        (self.staging / "ROUND").write_text(str(round_idx))

    def _file(self, folder: Path, client: int) -> Path:
        return folder / f"c{client:05d}.safetensors"

    def load(self, client: int, staged: bool = False) -> ClientState:
        """The client's latest committed state (a fresh one if it never participated); with
        ``staged``, the state this round staged for it when there is one (for evaluations
        that run before the round's commit)."""
        path = self._file(self.committed, client)
        if staged and self._file(self.staging, client).is_file():
            path = self._file(self.staging, client)
        if not path.is_file():
            return ClientState()
        tensors = load_file(path)
        last = int(tensors.pop("__last_round__").item())
        return ClientState(last, tensors)

    def stage(self, client: int, state: ClientState) -> None:
        """Write the client's new state to the staging folder."""
        tensors = {k: v.contiguous() for k, v in state.tensors.items()}
        tensors["__last_round__"] = torch.tensor(state.last_round)
        tmp = self._file(self.staging, client).with_suffix(".tmp")
        save_file(tensors, tmp)
        os.replace(tmp, self._file(self.staging, client))

    def commit(self) -> None:
        """Move every staged state over the committed one (called once the round is recorded)."""
        for path in self.staging.glob("*.safetensors"):
            os.replace(path, self.committed / path.name)
