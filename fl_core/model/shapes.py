"""Named model shapes (``--model shape:<name>``): paper-scale architectures with random weights.

The bytes of a LoRA message depend only on a model's shape (which modules, their in/out
features), and a step's compute time only on the shape and the hardware. So the paper's
Llama-2-7B workload can run without its weights: the architecture is built on the meta
device (no memory), each parameter is then allocated once, straight in the run's
``--dtype`` on its device (a 7B base never exists in float32), and filled with a cheap
seeded random init:

* one seeded block of ``BLOCK`` uniform values scaled to std ``initializer_range`` (0.02,
  what ``normal_`` would give), tiled over every weight matrix from a seeded offset that
  changes per parameter and per tile (the block length is odd, so rows of a matrix do not
  line up with tile starts); norm weights are 1 and biases 0, as transformers initialises
  them. Building 6.7 B parameters is a memory copy (seconds), not 6.7 B random draws.
* Tokenizer: the embedded byte-level tokenizer (259 ids, :mod:`fl_core.model.tiny_tokenizer`)
  for every shape. The shape keeps its own vocabulary (32,000 rows for Llama-2): ids
  0..258 use the first rows of the embedding and output head, the other rows are never
  indexed. Nothing the LoRA q,v adapter holds depends on the vocabulary, so its bytes are
  exactly the shape's, and the parameter count is the named model's.

Such runs are marked ``weights: random-init (shape only)`` in run.json; their accuracy
benchmarks (ARC, MMLU, QA) are meaningless on random weights and are not run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from fl_core.model import memory
from fl_core.errors import ModelError

PREFIX = "shape:"
RANDOM_INIT = "random-init (shape only)"
#: values in the seeded random block that is tiled over every weight matrix (odd, ~1 M)
BLOCK = (1 << 20) + 7


@dataclass(frozen=True)
class Shape:
    """A named architecture: a transformers model class and its config values."""

    name: str
    architecture: str  # transformers class, e.g. LlamaForCausalLM
    config: dict = field(default_factory=dict)
    source: str = ""  # where the numbers come from


_LLAMA2 = dict(max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
               vocab_size=32000)

SHAPES: dict[str, Shape] = {s.name: s for s in (
    Shape("llama2-7b", "LlamaForCausalLM",
          dict(_LLAMA2, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=32), "meta-llama/Llama-2-7b-hf config.json"),
    Shape("llama2-13b", "LlamaForCausalLM",
          dict(_LLAMA2, hidden_size=5120, intermediate_size=13824, num_hidden_layers=40, num_attention_heads=40,
               num_key_value_heads=40), "meta-llama/Llama-2-13b-hf config.json"),
    Shape("llama3.2-1b", "LlamaForCausalLM",
          dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, head_dim=64, vocab_size=128256, max_position_embeddings=131072,
               rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True,
               rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
          "meta-llama/Llama-3.2-1B config.json"),
    Shape("qwen2.5-0.5b", "Qwen2ForCausalLM",
          dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
               num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, rms_norm_eps=1e-6,
               rope_theta=1000000.0, tie_word_embeddings=True), "Qwen/Qwen2.5-0.5B config.json"),
    Shape("smollm2-135m", "LlamaForCausalLM",
          dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
               num_key_value_heads=3, vocab_size=49152, max_position_embeddings=8192, rms_norm_eps=1e-5,
               rope_theta=100000.0, tie_word_embeddings=True), "HuggingFaceTB/SmolLM2-135M config.json"),
    Shape("test-tiny", "LlamaForCausalLM",
          dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, vocab_size=300, max_position_embeddings=512, tie_word_embeddings=False),
          "a tiny shape for tests"),
)}


def is_shape(spec: str) -> bool:
    """Whether ``--model`` names a shape (``shape:<name>``)."""
    return spec.startswith(PREFIX)


def get_shape(spec: str) -> Shape:
    """The shape of ``shape:<name>``; an unknown name gets one line listing the known ones."""
    name = spec.removeprefix(PREFIX)
    if name not in SHAPES:
        raise ModelError(f"unknown model shape {name!r}; choose one of {', '.join(SHAPES)}")
    return SHAPES[name]


def hf_config(shape: Shape, tokenizer):
    """The transformers config of ``shape`` with the tokenizer's special ids."""
    import transformers

    model_class = getattr(transformers, shape.architecture)
    return model_class.config_class(**shape.config, pad_token_id=tokenizer.pad_token_id,
                                    bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)


def _meta_model(shape: Shape, tokenizer, device: torch.device | None = None) -> torch.nn.Module:
    """The architecture on the meta device (nothing allocated, no init run); buffers that are computed
    from the config (rotary frequencies) rebuilt on ``device`` when one is given."""
    import transformers

    config = hf_config(shape, tokenizer)
    with torch.device("meta"):
        model = getattr(transformers, shape.architecture)(config)
    if device is not None:
        for parent in list(model.modules()):
            for child_name, child in list(parent.named_children()):
                if any(b.is_meta for b in child.buffers(recurse=False)):
                    if not hasattr(child, "inv_freq"):
                        raise ModelError(f"shape {shape.name}: {type(child).__name__} has buffers that "
                                         "cannot be rebuilt from the config")
                    setattr(parent, child_name, _on(device, type(child), config))
    return model


def _on(device: torch.device, module_class: type, config) -> torch.nn.Module:
    with torch.device(device):
        return module_class(config=config)


def parameter_count(shape: Shape) -> int:
    """Parameters of the shape (tied embeddings counted once), without allocating any."""
    from fl_core.model.tiny_tokenizer import byte_tokenizer

    return sum(p.numel() for p in _meta_model(shape, byte_tokenizer()).parameters())


def needed_memory_bytes(shape: Shape, dtype: torch.dtype) -> int:
    """Estimated memory to train a LoRA on ``shape``: its weights in ``dtype`` plus a fixed overhead."""
    return memory.training_bytes(parameter_count(shape) * torch.finfo(dtype).bits // 8)


def check_fits(shape: Shape, dtype: torch.dtype, device: torch.device, copies: int = 1) -> None:
    """Refuse, with one line, ``copies`` base models of ``shape`` that cannot fit in the memory available."""
    need, have = copies * needed_memory_bytes(shape, dtype), memory.available_memory_bytes(device)
    if need > have:
        what = f"{copies} copies of " if copies > 1 else ""
        raise ModelError(f"{what}shape:{shape.name} in {str(dtype).removeprefix('torch.')} needs about "
                         f"{memory.gib(need)} ({parameter_count(shape) / 1e9:.2f} B parameters + "
                         f"{memory.TRAINING_OVERHEAD_BYTES / 2**30:.0f} GiB to train) but {device.type} has "
                         f"{memory.gib(have)} available")


def _fill(flat: torch.Tensor, block2: torch.Tensor, offsets: torch.Tensor) -> None:
    """Tile ``flat`` with windows of the doubled block starting at the given offsets (one per tile)."""
    n = flat.numel()
    for i, start in enumerate(range(0, n, BLOCK)):
        m = min(BLOCK, n - start)
        o = int(offsets[i % offsets.numel()])
        flat[start:start + m].copy_(block2[o:o + m])


def build(shape: Shape, seed: int, dtype: torch.dtype, device: torch.device):
    """``(model, tokenizer)``: the shape with seeded random weights in ``dtype`` on ``device``."""
    from fl_core.model.tiny_tokenizer import byte_tokenizer

    tokenizer = byte_tokenizer()
    model = _meta_model(shape, tokenizer, device)
    std = float(getattr(model.config, "initializer_range", 0.02))
    gen = torch.Generator().manual_seed(seed)
    block = (torch.rand(BLOCK, generator=gen) * 2 - 1) * (std * 3 ** 0.5)  # uniform, standard deviation std
    block2 = torch.cat([block, block]).to(device=device, dtype=dtype)
    made: dict[int, torch.nn.Parameter] = {}
    for module in model.modules():
        for name, p in list(module._parameters.items()):
            if p is None:
                continue
            if id(p) not in made:
                data = torch.empty(p.shape, dtype=dtype, device=device)
                if p.dim() >= 2:
                    tiles = -(-p.numel() // BLOCK)
                    _fill(data.view(-1), block2, torch.randint(0, BLOCK, (min(tiles, 4096),), generator=gen))
                elif name == "bias":
                    data.zero_()
                else:  # norm weights
                    data.fill_(1.0)
                made[id(p)] = torch.nn.Parameter(data, requires_grad=False)
            module._parameters[name] = made[id(p)]
    model.config.dtype = dtype
    model.tie_weights()  # tied heads (SmolLM2, Llama-3.2, Qwen2.5) share the embedding, as in the named model
    return model, tokenizer


def describe(shape: Shape) -> dict:
    """What run.json records about a shape run under ``model``."""
    return {"weights": RANDOM_INIT, "shape": {"name": shape.name, "architecture": shape.architecture,
                                              "source": shape.source, **shape.config}}
