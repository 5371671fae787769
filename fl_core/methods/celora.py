"""CE-LoRA (Li et al., 2025): tri-factor LoRA, only the r x r core C travels, personalised aggregation.

Delta W = s * B C A per target module (:mod:`fl_core.methods.tri_lora`). Every client
starts from the same seeded A and B (shared initialisation, so the clients' C live in one
coordinate system), trains A, B and C locally, keeps A and B in its on-disk
``ClientState`` and exchanges only C: r^2 values per target module, both ways.

Server, after round t, holds the pool of the round's decoded cores C_i with sample counts
n_i and each client's last core *update* u_i = C_i - (what it was sent). For a participant
j of round t+1 it builds j's own aggregate

    sim(j, i) = mix * cos(u_j, u_i) + (1 - mix) * cos(h_j, h_i)
    w_ji      = n_i exp(sim(j, i) / tau) / sum_k n_k exp(sim(j, k) / tau)
    C_j      <- sum_i w_ji C_i

* Parameter space: cosine of core updates (the direction each client's data pushed C), not
  of the cores themselves, which share their aggregate part and grow alike. A client the
  server has never heard from has no u_j; its similarity is the data term alone.
* Data space, privacy-preserving: h_i is client i's category histogram (counts per
  category, as ``Federation.histograms``), given to the method by the loop through
  :meth:`CELoRA.bind_federation`. It stands for a summary a client would send once when it
  registers (a few bytes per category); those bytes are not in the trace.
* tau -> infinity gives FedAvg of the pool; small tau gives each client mostly itself and
  its look-alikes. Defaults tau = 0.2, mix = 0.5 (:class:`~fl_core.methods.celora_config.CELoRAConfig`; ``--celora-tau``,
  ``--celora-mix``).
* Round 0 sends everyone the initial C = 0 (so Delta W = 0).

Evaluation: CE-LoRA serves a personalised model per client and has no single global one.
``eval.csv`` reports a consensus model: the sample-weighted mean of the last round's
participants' (A, B, C) — simulation-side only, nothing of it travels.

``composes_with_ecolora = False``: the message is r^2 values per module (a 16 x 16 fp16 core
is 512 bytes; position coding and top-k would save little on a dense core), and every
download is a different personalised aggregate, so there is no shared broadcast adapter
for EcoLoRA's download path to trail.
"""
from __future__ import annotations

import torch

from fl_core.model.adapter import Layout
from fl_core.rundir.client_state import ClientState
from fl_core.codec.rounding import fp16_exact
from fl_core.methods.base import SingleAdapterMethod
from fl_core.methods.tri_lora import tri_lora_config
from fl_core.model.base import BaseModel
from fl_core.transports.messages import Upload

LOCAL_AB = "celora_local_ab"


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


class CELoRA(SingleAdapterMethod):
    """Tri-factor LoRA; C exchanged, A and B personal; personalised similarity-weighted aggregation."""

    name = "celora"
    exchanged_kinds = "C"
    trained_kinds = "ABC"
    personalised = True  # eval.csv also reports each client's own model (fl_core.evaluation.metrics.personalised_metrics)

    def __init__(self, cfg, base: BaseModel) -> None:
        super().__init__(cfg, base)
        self.local_layout = Layout.from_state(self.params, "AB")
        self.local_init = self.local_layout.flatten(self.params)
        self.full_layout = Layout.from_state(self.params, "ABC")
        self.eval_vector = self.full_layout.flatten(self.params)
        self.histograms: torch.Tensor | None = None  # K x categories, unit rows
        self.pool_clients: list[int] = []
        self.pool_c = torch.zeros(0, self.layout.numel)
        self.pool_weights = torch.zeros(0)
        self.updates: dict[int, torch.Tensor] = {}
        self.sent: dict[int, torch.Tensor] = {}
        self.finished: dict[int, torch.Tensor] = {}

    def lora_config(self, rank: int):
        """peft LoRA configuration whose targeted Linear layers are tri-factor layers."""
        return tri_lora_config(super().lora_config(rank))

    def bind_federation(self, federation) -> None:
        """Keep the clients' category histograms (the data-space summary)."""
        cats = federation.categories
        counts = [[federation.histograms[c].get(cat, 0) for cat in cats] for c in range(len(federation.clients))]
        self.histograms = _unit_rows(torch.tensor(counts, dtype=torch.float32))

    # -- server -----------------------------------------------------------------------------
    def personal_weights(self, client: int) -> torch.Tensor:
        """w_ji over the pool (sums to 1)."""
        terms = []
        if client in self.updates:
            mine = _unit_rows(self.updates[client])
            theirs = _unit_rows(torch.stack([self.updates[i] for i in self.pool_clients]))
            terms.append((self.settings.mix, theirs @ mine))
        if self.histograms is not None:
            terms.append((1 - self.settings.mix, self.histograms[self.pool_clients] @ self.histograms[client]))
        if len(terms) == 2:
            sim = terms[0][0] * terms[0][1] + terms[1][0] * terms[1][1]
        else:
            sim = terms[0][1] if terms else torch.zeros(len(self.pool_clients))
        return torch.softmax(sim / self.settings.tau + self.pool_weights.log(), dim=0)

    def download_vector(self, client: int) -> torch.Tensor:
        """The client's own aggregate of the last round's cores (the initial C before any upload)."""
        vector = self.global_vector if not self.pool_clients else self.personal_weights(client) @ self.pool_c
        vector = fp16_exact(vector)
        self.sent[client] = vector
        return vector

    def server_reference(self, client: int) -> torch.Tensor:
        return self.sent[client]

    def aggregate(self, uploads: list[Upload]) -> None:
        """Pool the decoded cores, remember each client's core update, and form the consensus for evaluation.

        A round where no upload arrived (deadline schedule) keeps the last pool."""
        if not uploads:
            self.sent.clear()
            self.finished.clear()
            self.round += 1
            return
        for u in uploads:
            self.updates[u.client] = u.vector - self.sent[u.client]
        self.pool_clients = [u.client for u in uploads]
        self.pool_c = torch.stack([u.vector for u in uploads])
        self.pool_weights = torch.tensor([float(u.weight) for u in uploads])
        if all(u.client in self.finished for u in uploads):
            p = self.pool_weights / self.pool_weights.sum()
            self.eval_vector = p @ torch.stack([self.finished[u.client] for u in uploads])
        self.sent.clear()
        self.finished.clear()
        self.round += 1

    # -- client -----------------------------------------------------------------------------
    def client_start(self, client: int, received: torch.Tensor, state: ClientState, round_idx: int) -> None:
        """Own A and B (the shared seeded init at first), the received C."""
        self.set_vector(state.tensors.get(LOCAL_AB, self.local_init), self.local_layout)
        self.set_vector(received)

    def client_finish(self, client: int, state: ClientState) -> None:
        """Keep A and B on disk; note the whole adapter for the evaluation consensus."""
        state.tensors[LOCAL_AB] = self.get_vector(self.local_layout)
        self.finished[client] = self.get_vector(self.full_layout)

    def load_global(self) -> None:
        """The consensus adapter (see the module doc)."""
        self.set_vector(self.eval_vector, self.full_layout)

    def load_personal(self, client: int, state: ClientState) -> bool:
        """Client ``client``'s own model: its A and B with the core it would receive now (its
        personalised aggregate of the last pool). False when it has no A and B yet or no pool."""
        if LOCAL_AB not in state.tensors or not self.pool_clients:
            return False
        self.set_vector(state.tensors[LOCAL_AB], self.local_layout)
        self.set_vector(fp16_exact(self.personal_weights(client) @ self.pool_c))
        return True

    # -- checkpoint -------------------------------------------------------------------------
    def server_state(self) -> dict[str, torch.Tensor]:
        known = sorted(self.updates)
        return {
            "pool_clients": torch.tensor(self.pool_clients, dtype=torch.int64),
            "pool_c": self.pool_c, "pool_weights": self.pool_weights,
            "update_clients": torch.tensor(known, dtype=torch.int64),
            "updates": torch.stack([self.updates[c] for c in known]) if known else torch.zeros(0, self.layout.numel),
            "eval": self.eval_vector,
        }

    def load_server_state(self, state: dict[str, torch.Tensor]) -> None:
        self.pool_clients = [int(c) for c in state["pool_clients"]]
        self.pool_c, self.pool_weights, self.eval_vector = state["pool_c"], state["pool_weights"], state["eval"]
        self.updates = {int(c): u for c, u in zip(state["update_clients"], state["updates"])}
