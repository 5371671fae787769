"""FLoRA (Wang et al., 2024): heterogeneous ranks, stacking aggregation, a download that grows with N.

Round t, with participants i = 1..N of ranks r_i and sample weights p_i = n_i / sum n:

* a client re-initialises its local LoRA of rank r_i (seeded per (t, i): A random, B = 0)
  and trains it; its upload is that adapter (r_i (in + out) values per target module);
* the server stacks the decoded adapters, per target module
  A_stack = [A_1; ...; A_N] (rows), B_stack = [p_1 s B_1, ..., p_N s B_N] (columns),
  so that B_stack A_stack = sum_i p_i s B_i A_i (s the LoRA scaling, folded into B);
* the server merges B_stack A_stack into the global model (the base weights) and sends
  the stack to the next round's participants; each merges it into its own base weights
  and re-initialises its local LoRA. The download has sum_i r_i (in + out) values per
  module: it grows linearly with the number of participants (Table 1: FLoRA's total
  traffic is ~10x its upload).

Choices made here:

* The merge keeps the merged weight to float32 precision under a bf16/fp16 base
  (:class:`fl_core.methods.merge.Merger`: the base holds its rounding, a float32 residual
  the rest), so rounding does not accumulate over rounds.
* One shared base model stands for every client's copy. The server merges the stack once,
  in :meth:`FLoRA.aggregate`, exactly as the wire carries it (values rounded to fp16);
  every participant decodes its download and :meth:`FLoRA.client_start` checks that what
  it decoded is bit-identical to what was merged, so the shortcut is exact.
* A client that missed rounds still starts from the global merged model, and its download
  is only the last round's stack: FLoRA's own accounting (and Table 1) counts one stack per
  participant per round. A real straggler would need every stack it missed (or the base).
* The stacked download is laid out block by block, ``<module>.lora_A.stack.<k>`` (r_k x in)
  then ``<module>.lora_B.stack.<k>`` (out x r_k) for k in upload order; the receiver derives
  this layout (and its fingerprint) from the previous round's participants and their ranks,
  which follow from the public, seeded schedule. Round 0's download is the empty stack.
* Composed with EcoLoRA (``flora+ecolora``, download policy
  :class:`fl_core.transports.downloads.ExactStack`): uploads are the
  segment/top-k sparsified *update* of the fresh adapter relative to its seeded
  initialisation (``server_reference``); the stack is then sent as its offset from the
  seeded initial stack (A blocks minus their seeded inits, B blocks as they are since B
  starts at 0), Golomb-coded sparse when that is smaller, which is exact (no lossy stage on
  the download). EcoLoRA's error-feedback residual and Eq. 3 staleness mix are dropped for
  FLoRA: the local adapter is re-initialised every round, so an unsent entry of an earlier
  adapter means nothing to the next one.
"""
from __future__ import annotations

import torch

from fl_core.model.adapter import Layout, TensorSpec
from fl_core.rundir.client_state import ClientState
from fl_core.codec.rounding import fp16_exact
from fl_core.methods.hetero import MultiRankMethod
from fl_core.methods.merge import Merger
from fl_core.transports.messages import Upload


class FLoRA(MultiRankMethod):
    """Stacking aggregation of heterogeneous-rank LoRA adapters."""

    name = "flora"

    def __init__(self, cfg, base) -> None:
        super().__init__(cfg, base)
        self.stack_ranks: tuple[int, ...] = ()  # ranks of the last round's participants, in upload order
        self.stack_vector = torch.zeros(0)  # the stacked adapter as it travels (fp16 values)
        self.stack_from_init = False  # True: A blocks travel as offsets from their seeded inits (EcoLoRA)
        self.merger = Merger()  # the merged base to float32 precision, also under a bf16 base

    # -- layouts ----------------------------------------------------------------------------
    def stack_layout(self, ranks: tuple[int, ...]) -> Layout:
        """Layout of the stacked adapter of participants with these ranks (in upload order)."""
        specs = []
        for t in self.targets:
            specs += [TensorSpec(t.stack_block("A", k), (r, t.in_features), "A") for k, r in enumerate(ranks)]
            specs += [TensorSpec(t.stack_block("B", k), (t.out_features, r), "B") for k, r in enumerate(ranks)]
        return Layout(tuple(specs))

    def download_layout(self, client: int) -> Layout:
        return self.stack_layout(self.stack_ranks)

    # -- the verbs --------------------------------------------------------------------------
    def download_vector(self, client: int) -> torch.Tensor:
        """The last round's stack (identical for every participant)."""
        return self.stack_vector

    def client_start(self, client: int, received: torch.Tensor, state: ClientState, round_idx: int) -> None:
        """Merge the received stack into the base (already merged in the shared base: check it), then
        re-initialise the local LoRA of the client's rank."""
        self.check_round(round_idx)
        if not torch.equal(received, self.stack_vector):
            raise RuntimeError(f"client {client} decoded a stack that differs from the one merged into the base")
        self.activate(self.client_rank(client))
        self.set_vector(self.init_vector(round_idx, client), self.client_layout(client))

    def server_reference(self, client: int) -> torch.Tensor:
        """The client's seeded fresh adapter of this round: what an EcoLoRA upload is an update of."""
        return self.init_vector(self.round, client)

    def _blocks(self, uploads: list[Upload]) -> dict[str, torch.Tensor]:
        total = sum(u.weight for u in uploads)
        blocks = {}
        for k, u in enumerate(uploads):
            rank = self.client_rank(u.client)
            layout = self.client_layout(u.client)
            own = layout.unflatten(u.vector)
            init = layout.unflatten(self.init_vector(self.round, u.client)) if self.stack_from_init else None
            p = u.weight / total
            for t in self.targets:
                a_name, b_name = t.param("A", rank), t.param("B", rank)
                blocks[t.stack_block("A", k)] = own[a_name] if init is None else own[a_name] - init[a_name]
                blocks[t.stack_block("B", k)] = (p * self.scaling) * own[b_name]
        return blocks

    def aggregate(self, uploads: list[Upload]) -> None:
        """Stack the decoded adapters (B scaled by p_i s) and merge the stack into the global base.

        A round where no upload arrived (deadline schedule) merges nothing: the base stays, and
        the next download is the empty stack (nothing new to merge)."""
        if not uploads:
            self.stack_ranks, self.stack_vector = (), torch.zeros(0)
            self.round += 1
            return
        ranks = tuple(self.client_rank(u.client) for u in uploads)
        layout = self.stack_layout(ranks)
        vector = fp16_exact(layout.flatten(self._blocks(uploads)))
        stacked = layout.unflatten(vector)
        inits = [self.client_layout(u.client).unflatten(self.init_vector(self.round, u.client)) for u in uploads]
        with torch.no_grad():
            for t in self.targets:
                a_blocks = [stacked[t.stack_block("A", k)] for k in range(len(uploads))]
                if self.stack_from_init:
                    a_blocks = [a + inits[k][t.param("A", r)]
                                for k, (a, r) in enumerate(zip(a_blocks, ranks))]
                b_blocks = [stacked[t.stack_block("B", k)] for k in range(len(uploads))]
                self.merger.add(t.prefix, self.base_weight(t), torch.cat(b_blocks, 1) @ torch.cat(a_blocks, 0))
        self.stack_ranks, self.stack_vector = ranks, vector
        self.round += 1

    def load_global(self) -> None:
        """The global model is the merged base; the LoRA path must add nothing."""
        self.zero_adapters()

    # -- checkpoint -------------------------------------------------------------------------
    def server_state(self) -> dict[str, torch.Tensor]:
        state = {"round": torch.tensor(self.round), "stack_ranks": torch.tensor(self.stack_ranks, dtype=torch.int64),
                 "stack": self.stack_vector}
        state.update({f"weight.{i}": self.base_weight(t).detach().cpu() for i, t in enumerate(self.targets)})
        state.update({f"residual.{i}": self.merger.residuals[t.prefix] for i, t in enumerate(self.targets)
                      if t.prefix in self.merger.residuals})
        return state

    def load_server_state(self, state: dict[str, torch.Tensor]) -> None:
        self.round = int(state["round"])
        self.stack_ranks = tuple(int(r) for r in state["stack_ranks"])
        self.stack_vector = state["stack"]
        for i, t in enumerate(self.targets):
            exact = state[f"weight.{i}"].float()
            if f"residual.{i}" in state:
                exact += state[f"residual.{i}"]
            self.merger.restore(t.prefix, self.base_weight(t), exact)
