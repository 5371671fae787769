"""Shared fixtures: a small Dolly-format dataset and tiny-model run configurations."""
from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["NETBENCH_FLOW_CACHE"] = "off"  # tests simulate; they neither read nor fill a cache (not even a user's own)

_TOPICS = {
    "arithmetic": ("What is {a} plus {b}?", "{s}"),
    "geography": ("Name a river in country number {a}.", "River {b} flows through country {a}."),
    "cooking": ("How long should I boil egg number {a}?", "Boil it for {b} minutes."),
    "animals": ("How many legs does animal {a} have?", "It has {b} legs."),
}


@pytest.fixture(scope="session")
def dolly_file(tmp_path_factory):
    """A Dolly-15k-format JSONL with 4 categories and 160 records."""
    path = tmp_path_factory.mktemp("data") / "dolly.jsonl"
    lines = []
    for cat, (q, a) in _TOPICS.items():
        for i in range(40):
            lines.append(json.dumps({"instruction": q.format(a=i, b=i + 3), "context": "",
                                     "response": a.format(a=i, b=i + 3, s=2 * i + 3), "category": cat}))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def tiny_cfg(dolly_file):
    """A RunConfig factory for fast runs on the tiny random Llama."""
    from fl_core.run.config import RunConfig

    def make(**kw) -> RunConfig:
        base = dict(model="tiny-llama", dataset=str(dolly_file), n_clients=6, participants=3, rounds=2,
                    local_steps=2, batch_size=2, max_len=48, rank=4, lora_alpha=8, eval_examples=8,
                    eval_every=1, arc_subset=0, arc_final=0, lr=1e-3)
        base.update(kw)
        return RunConfig(**base)

    return make


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance (2 CPUs, no dashboard) shared by every Ray test of the session."""
    ray = pytest.importorskip("ray")
    # Ray's worker processes inherit this environment: with tests/ on their path, test modules'
    # functions (sweep cell hooks) travel to them by reference, as they do to ns-3 workers; with the
    # repository root, so do the examples' (examples/flower's ClientApp)
    here = os.path.dirname(os.path.abspath(__file__))
    paths = (here, os.path.dirname(here), os.environ.get("PYTHONPATH"))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()
