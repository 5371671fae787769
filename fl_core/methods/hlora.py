"""HLoRA (Liu et al., 2025): heterogeneous ranks with an aggregation that is unbiased across ranks.

The HLoRA summary names the problem it fixes: earlier heterogeneous-rank methods pad the
smaller adapters to the largest rank with zeros and average A and B separately, which
biases the aggregate (a zero-padded B_i A_i is not averaged with the products of the
others, and averaging factors is not averaging products). It proposes "a novel
aggregation method for different low-rank adaptors on the server" without more detail in
the summary, so what follows is **our reading, not the paper's formula** (the seed has no
equation or algorithm of HLoRA; docs/METHODS.md lists the equations). We implement the
principled option, in product space:

* The server keeps the global update per target module as a full matrix
  Delta W (out x in), zero at the start.
* Download to client i of rank r_i: the rank-r_i truncated SVD of Delta W,
  Delta W ~ U_r S_r V_r^T, as B_i = U_r S_r / s, A_i = V_r^T (s the LoRA scaling),
  values rounded to fp16 as they travel. Components with zero singular value (all of
  them in round 0) get the client's seeded LoRA initialisation instead (A rows
  Kaiming-uniform, B columns 0), so round 0 is plain LoRA and no direction is dead.
  Choice: the magnitude sits in B and A has orthonormal rows (the scale of a fresh LoRA
  A), rather than the symmetric sqrt(S) split, so a client's first steps behave like
  LoRA's whatever the size of Delta W.
* Aggregation: each client's contribution is the change of its product,
  Delta W_i - Delta W_i^0 = s B_i A_i - s B_i^0 A_i^0 (B_i^0, A_i^0 what it was sent), and
  Delta W <- Delta W + sum_i p_i (Delta W_i - Delta W_i^0), p_i = n_i / sum n.
  When every client can represent Delta W (equal ranks, Delta W of rank <= r, e.g. round 0)
  this is exactly FedAvg of the products, sum_i p_i s B_i A_i. Averaging updates rather
  than products keeps the components of Delta W beyond a small client's rank: with the
  product average, a rank-4 client that did not train at all would still shrink every
  component of Delta W beyond its rank 4 by its weight p_i, every round.
* The global model (evaluation) is W + Delta W, merged into the base weights, untruncated.

``composes_with_ecolora = False``: each client's download is a fresh SVD factorisation,
whose basis (and signs) change from round to round, so it is not a sparse difference of
anything the client already holds, and EcoLoRA's Eq. 3 mix of a stale and a fresh factor
pair in different bases is not a mix of the products they stand for.
"""
from __future__ import annotations

import torch

from fl_core.model.adapter import Layout
from fl_core.rundir.client_state import ClientState
from fl_core.codec.rounding import fp16_exact
from fl_core.methods.hetero import MultiRankMethod
from fl_core.transports.messages import Upload


class HLoRA(MultiRankMethod):
    """Product-space aggregation of heterogeneous-rank adapters, SVD re-factorised per client rank."""

    name = "hlora"

    def __init__(self, cfg, base) -> None:
        super().__init__(cfg, base)
        self.w0 = {t.prefix: self.base_weight(t).detach().float().cpu().clone() for t in self.targets}
        self.delta = {t.prefix: torch.zeros(t.out_features, t.in_features) for t in self.targets}
        self.sent: dict[int, torch.Tensor] = {}  # what each participant of this round was sent
        self.base_holds_global = False  # True after load_global merged Delta W for evaluation
        self._refactor()

    def _refactor(self) -> None:
        """Truncated SVD of every Delta W to the largest client rank (once per round)."""
        self.factors = {}
        for t in self.targets:
            u, s, vh = torch.linalg.svd(self.delta[t.prefix], full_matrices=False)
            k = min(self.ranks[0], s.numel())
            tol = float(s.max()) * max(t.in_features, t.out_features) * torch.finfo(s.dtype).eps if s.numel() else 0.0
            live = s[:k] > tol
            self.factors[t.prefix] = (u[:, :k], s[:k], vh[:k], live)

    # -- the verbs --------------------------------------------------------------------------
    def download_layout(self, client: int) -> Layout:
        return self.client_layout(client)

    def download_vector(self, client: int) -> torch.Tensor:
        """Rank-r_i factors of the global Delta W (B = U S / s, A = V^T; seeded LoRA init where S = 0)."""
        rank = self.client_rank(client)
        layout = self.client_layout(client)
        init = layout.unflatten(self.init_vector(self.round, client))
        parts = {}
        for t in self.targets:
            a_name, b_name = t.param("A", rank), t.param("B", rank)
            u, s, vh, live = self.factors[t.prefix]
            k = min(rank, s.numel())
            a, b = init[a_name].clone(), init[b_name].clone()
            keep = live[:k]
            a[:k][keep] = vh[:k][keep]
            b[:, :k][:, keep] = (u[:, :k] * (s[:k] / self.scaling))[:, keep]
            parts[a_name], parts[b_name] = a, b
        vector = fp16_exact(layout.flatten(parts))
        self.sent[client] = vector
        return vector

    def client_start(self, client: int, received: torch.Tensor, state: ClientState, round_idx: int) -> None:
        """Start from the received factors of the client's rank."""
        self.check_round(round_idx)
        if self.base_holds_global:
            self._set_base(self.w0)
        self.activate(self.client_rank(client))
        self.set_vector(received, self.client_layout(client))

    def server_reference(self, client: int) -> torch.Tensor:
        """What the client was sent this round."""
        return self.sent[client]

    def _product(self, client: int, vector: torch.Tensor) -> dict[str, torch.Tensor]:
        rank = self.client_rank(client)
        tensors = self.client_layout(client).unflatten(vector)
        return {t.prefix: self.scaling * tensors[t.param("B", rank)] @ tensors[t.param("A", rank)] for t in self.targets}

    def aggregate(self, uploads: list[Upload]) -> None:
        """Delta W += sum_i p_i (s B_i A_i - s B_i^0 A_i^0), then re-factorise."""
        total = sum(u.weight for u in uploads)
        for u in uploads:
            after, before = self._product(u.client, u.vector), self._product(u.client, self.sent[u.client])
            for prefix in self.delta:
                self.delta[prefix] += (u.weight / total) * (after[prefix] - before[prefix])
        self.sent.clear()
        self.round += 1
        self._refactor()

    def _set_base(self, weights: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for t in self.targets:
                self.base_weight(t).copy_(weights[t.prefix])
        self.base_holds_global = weights is not self.w0

    def load_global(self) -> None:
        """W + Delta W in the base weights, the LoRA path adding nothing (undone by the next client_start)."""
        self._set_base({p: self.w0[p] + d for p, d in self.delta.items()})
        self.zero_adapters()

    # -- checkpoint -------------------------------------------------------------------------
    def server_state(self) -> dict[str, torch.Tensor]:
        state = {"round": torch.tensor(self.round)}
        state.update({f"delta.{i}": self.delta[t.prefix] for i, t in enumerate(self.targets)})
        return state

    def load_server_state(self, state: dict[str, torch.Tensor]) -> None:
        self.round = int(state["round"])
        self.delta = {t.prefix: state[f"delta.{i}"].clone() for i, t in enumerate(self.targets)}
        self._refactor()
