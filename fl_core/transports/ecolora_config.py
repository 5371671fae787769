"""EcoLoRA's typed settings (Section 3, Appendix A); each stage switchable for the ablation of Table 3."""
from __future__ import annotations

from dataclasses import dataclass

from fl_core.codec.segments import check_segments
from fl_core.errors import ConfigError
from fl_core.run.settings import check_limits, setting


@dataclass
class EcoLoRAConfig:
    """EcoLoRA stages and hyperparameters."""

    round_robin: bool = setting(True, "EcoLoRA: round-robin segment uploads (3.3); off = whole update.",
                                flag="--round-robin/--no-round-robin")
    n_segments: int = setting(5, "EcoLoRA N_s (must be <= participants).", flag="--segments", min=1)
    # Eq. 3 staleness decay; e^{-0.3*gap}: 0.74 after 1 round, 0.05 after 10
    beta: float = setting(0.3, "EcoLoRA Eq. 3 staleness decay of a returning client's own adapter.", min=0)
    sparsify: bool = setting(True, "EcoLoRA: adaptive top-k sparsification with residuals (Eq. 4-6).",
                             flag="--sparsify/--no-sparsify")
    k_max: float = setting(0.95, "EcoLoRA Eq. 4: largest kept fraction k_max (first round).",
                           min=0, max=1, min_open=True)
    k_min_a: float = setting(0.6, "EcoLoRA Eq. 4: smallest kept fraction of LoRA A.", min=0, max=1, min_open=True)
    k_min_b: float = setting(0.5, "EcoLoRA Eq. 4: smallest kept fraction of LoRA B.", min=0, max=1, min_open=True)
    # gamma_A < gamma_B: B's sparsity changes faster (Section 3.4)
    gamma_a: float = setting(1.0, "EcoLoRA Eq. 4: how fast k_A falls as the loss drops.", min=0)
    gamma_b: float = setting(2.0, "EcoLoRA Eq. 4: how fast k_B falls as the loss drops.", min=0)
    fixed_k: float | None = setting(None, "Fixed top-k ratio for A and B in every round (ablation).",
                                    min=0, max=1, min_open=True)
    encode: bool = setting(True, "Golomb-code positions (3.5); --no-encode writes fixed-width positions "
                           "(Table 3's w/o Encoding).", flag="--encode/--no-encode")
    raw_position_bits: int = setting(16, "Width of --no-encode positions: 16 bits relative to 2^16-element blocks "
                                     "(the paper's) or 32.", choices=(16, 32))
    dense_fallback: bool = setting(True, "Send a segment dense (fp16) when that is smaller than its sparse message.",
                                   flag="--dense-fallback/--no-dense-fallback")
    sparsify_download: bool = setting(True, "EcoLoRA: sparse downloads (the server's trailing broadcast adapter).",
                                      flag="--sparsify-download/--dense-download")
    stack_download: str = setting("dense", "FLoRA w/ EcoLoRA download: 'dense', the whole stack as FLoRA sends it "
                                  "(what Table 1 implies, docs/METHODS.md), or 'offset', its exact sparse offset "
                                  "from the seeded initial stack (smaller).", choices=("dense", "offset"))

    @property
    def sparse_codec(self) -> str:
        """Payload codec name of sparse messages (``fl_core.codec.payload``, imported here: it needs torch)."""
        from fl_core.codec.payload import sparse_codec_name

        return sparse_codec_name("golomb" if self.encode else {16: "raw16", 32: "raw"}[self.raw_position_bits])

    def validate(self, participants: int) -> None:
        """Refuse impossible settings with a message naming the parameter: the declared limits, then
        the rules across fields (k_min <= k_max; N_s <= ``participants``)."""
        check_limits(self)
        if self.k_min_a > self.k_max or self.k_min_b > self.k_max:
            raise ConfigError(f"k_min ({self.k_min_a}, {self.k_min_b}) must not exceed k_max={self.k_max}")
        if self.round_robin:
            check_segments(self.n_segments, participants)
