"""The library refuses every value the CLI refuses, from the same declaration.

One case per declared limit of every configuration field that ``netbench train`` offers
(``min``/``max`` and a tuple of ``choices`` in :func:`fl_core.run.settings.setting`): a value
just outside it must be refused by ``netbench train`` (exit 2, one line) and by the library's
:func:`fl_core.run.capabilities.check` with a ``ConfigError`` naming the field.
"""
from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from fl_core.errors import ConfigError
from fl_core.run.capabilities import check, configurable
from fl_core.run.config import SCHEDULE_OF_PARTICIPATION, EcoLoRAConfig, RunConfig
from fl_core.run.settings import cli_fields
from fl_core.methods import METHODS
from fl_core.objectives import OBJECTIVES
from fl_core.schedules import SCHEDULES

BASE = dict(model="tiny-llama", n_clients=6, participants=3, rounds=1)
#: Settings a component cannot run without (so that the case is refused for its own field).
REQUIRED = {"deadline": {"deadline_s": 1.0}}


def _outside(f: dataclasses.Field) -> list:
    """Values just outside each of ``f``'s declared limits."""
    meta, integer = f.metadata, str(f.type).startswith("int")
    step = 1 if integer else 0.5
    values = []
    if meta.get("min") is not None:
        values.append(meta["min"] if meta.get("min_open") else meta["min"] - step)
    if meta.get("max") is not None:
        values.append(meta["max"] if meta.get("max_open") else meta["max"] + step)
    choices = meta.get("choices")
    if isinstance(choices, tuple):
        values.append(min(choices) - 1 if all(isinstance(c, int) for c in choices) else "nope")
    return values


def _component_context(component: str) -> dict:
    """RunConfig fields that select ``component`` (and give it what it needs to run)."""
    if component in METHODS:
        return {"method": component}
    if component in OBJECTIVES:
        return {"objective": component}
    assert component in SCHEDULES, component
    participation = {v: k for k, v in SCHEDULE_OF_PARTICIPATION.items()}[component]
    return {"participation": participation, "links": ("1/5",)}


def _cases() -> list:
    cases = []
    for f in cli_fields(RunConfig):
        for value in _outside(f):
            cases.append(pytest.param("run", f, value, id=f"{f.name}={value}"))
    for f in cli_fields(EcoLoRAConfig):
        for value in _outside(f):
            cases.append(pytest.param("ecolora", f, value, id=f"ecolora.{f.name}={value}"))
    for component, config_type in configurable().items():
        for f in cli_fields(config_type):
            for value in _outside(f):
                cases.append(pytest.param(component, f, value, id=f"{component}.{f.name}={value}"))
    return cases


CASES = _cases()


def _dest(where: str, f: dataclasses.Field) -> str:
    return f.name if where == "run" else f"{where}__{f.name}"


def _library_config(where: str, f: dataclasses.Field, value) -> RunConfig:
    if where == "run":
        return RunConfig(**{**BASE, f.name: value})
    if where == "ecolora":
        return RunConfig(**BASE, ecolora=EcoLoRAConfig(**{"n_segments": 3, f.name: value}))
    settings = {where: {**REQUIRED.get(where, {}), f.name: value}}
    return RunConfig(**BASE, **_component_context(where), settings=settings)


def test_every_declared_limit_has_a_case():
    assert len(CASES) >= 30  # RunConfig's, EcoLoRA's and every component's limits
    assert {"eval_examples", "per_category", "staleness_exponent"} <= {c.values[1].name for c in CASES}


@pytest.mark.parametrize("where, f, value", CASES)
def test_the_library_refuses_what_the_cli_refuses(where, f, value, dolly_file, tmp_path):
    from harness.cli import main
    from harness.commands.train import train

    (option,) = [p for p in train.params if p.name == _dest(where, f)]
    args = ["train", "--model", "tiny-llama", "--dataset", str(dolly_file), "--clients", "6", "--participants", "3",
            "--rounds", "1", "--out", str(tmp_path / "run"), option.opts[0], str(value)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "Traceback" not in result.output, (args, result.output)

    with pytest.raises(ConfigError) as info:
        check(_library_config(where, f, value))
    message = str(info.value)
    name = f.metadata.get("label") or f.name
    assert name in message and "\n" not in message, message


def test_settings_are_resolved_once_per_value(tmp_path, monkeypatch):
    """The deadline schedule asks for its settings every round: the trace is read once, not every round."""
    from fl_core.schedules import deadline

    trace = tmp_path / "trace.csv"
    trace.write_text("client,on\n0,0110\n")
    reads = []
    real = deadline.read_availability_trace
    monkeypatch.setattr(deadline, "read_availability_trace", lambda path: reads.append(path) or real(path))
    cfg = RunConfig(**BASE, participation="deadline", links=("1/5",),
                    settings={"deadline": {"deadline_s": 1.0, "availability_trace": str(trace)}})
    first = cfg.settings_of("deadline", deadline.DeadlineConfig)
    for round_idx in range(5):
        deadline.invited(cfg, round_idx)
        deadline.available(cfg, round_idx, [0, 1], {})
    assert cfg.settings_of("deadline", deadline.DeadlineConfig) is first and len(reads) == 1
    cfg.settings["deadline"]["availability"] = 0.5  # a changed value is resolved (and checked) again
    assert cfg.settings_of("deadline", deadline.DeadlineConfig).availability == 0.5 and len(reads) == 2
    cfg.settings["deadline"]["availability"] = 2
    with pytest.raises(ConfigError, match="availability=2 must be a finite number in"):
        cfg.settings_of("deadline", deadline.DeadlineConfig)
