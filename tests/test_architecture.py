"""The shapes issue 10 asks for: no import cycles, capabilities checked before any model load,
registries extended by one module plus one line, options generated with help texts."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from fl_core.run.config import EcoLoRAConfig, RunConfig
from fl_core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fl_core", "harness", "ns3_scenarios", "integrations")


def import_graph() -> dict[str, set[str]]:
    """module -> project modules it imports (module level and inside functions; ``import a.b.c`` counts as
    an edge to ``a.b.c`` only, as a package ``__init__`` that registers its submodules is not a cycle)."""
    modules = {}
    for pkg in PACKAGES:
        for file in (ROOT / pkg).rglob("*.py"):
            parts = file.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = file
    graph = {}
    for name, file in modules.items():
        edges = set()
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(file.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, f"import cycles: {found}"


def test_ns_is_imported_only_in_ns3_scenarios():
    for pkg in ("fl_core", "harness"):
        for file in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                assert not any(n == "ns" or n.startswith("ns.") for n in names), file


def _cfg(**kw) -> RunConfig:
    base = dict(model="tiny-llama", n_clients=6, participants=3, rounds=1)
    base.update(kw)
    return RunConfig(**base)


# (id, config, needle of the one-line refusal)
INVALID = [
    ("hlora+ecolora", _cfg(method="hlora", ecolora=EcoLoRAConfig(n_segments=3)), "does not compose with EcoLoRA"),
    ("celora+ecolora", _cfg(method="celora", ecolora=EcoLoRAConfig(n_segments=3)), "does not compose with EcoLoRA"),
    ("flora+dpo", _cfg(method="flora", objective="dpo"), "does not support objective 'dpo'"),
    ("hlora+dpo", _cfg(method="hlora", objective="dpo"), "does not support objective 'dpo'"),
    ("flora+fedbuff", _cfg(method="flora", participation="fedbuff", links=("1/5",)), "FedBuff"),
    ("hlora+fedbuff", _cfg(method="hlora", participation="fedbuff", links=("1/5",)), "FedBuff"),
    ("celora+fedbuff", _cfg(method="celora", participation="fedbuff", links=("1/5",)), "personalised"),
    ("fedbuff-without-arrivals", _cfg(participation="fedbuff"), "FedBuff needs per-client links"),
    ("fedbuff-concurrency", _cfg(participation="fedbuff", links=("1/5",), concurrency=2), "concurrency"),
    ("deadline-without-deadline", _cfg(participation="deadline", links=("1/5",)), "needs --deadline"),
    ("deadline-without-arrivals", _cfg(participation="deadline", settings={"deadline": {"deadline_s": 1.0}}),
     "needs per-client links"),
    ("deadline-under-selection", _cfg(participation="deadline", links=("1/5",),
                                      settings={"deadline": {"deadline_s": 1.0, "over_selection": 0.5}}),
     "over-selection"),
    ("celora-tau", _cfg(method="celora", settings={"celora": {"tau": 0}}), "celora_tau"),
    ("dpo-beta", _cfg(objective="dpo", settings={"dpo": {"beta": -1}}), "beta"),
    ("unknown-setting", _cfg(method="celora", settings={"celora": {"tow": 1}}), "unknown celora setting 'tow'"),
    ("unknown-component", _cfg(settings={"fedprox": {"mu": 1}}), "unknown component 'fedprox'"),
    ("unknown-method", _cfg(method="fedavg"), "unknown method 'fedavg'"),
    ("unknown-objective", _cfg(objective="ppo"), "unknown objective 'ppo'"),
    ("unknown-partition", _cfg(partition="zipf"), "unknown partition 'zipf'"),
    ("unknown-participation", _cfg(participation="lottery"), "unknown schedule (participation) 'lottery'"),
    ("segments", _cfg(ecolora=EcoLoRAConfig(n_segments=5)), "N_s (=5)"),
]


@pytest.mark.parametrize("case_id, cfg, needle", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_combinations_are_refused_before_any_model_load(case_id, cfg, needle, tmp_path, monkeypatch):
    from fl_core.run import context, loop

    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the configuration was refused")

    monkeypatch.setattr(context, "load_base_model", no_load)
    with pytest.raises(ConfigError) as info:
        loop.train(cfg, tmp_path / "run", progress=False)
    message = str(info.value)
    assert needle in message and "\n" not in message
    assert not (tmp_path / "run").exists()


def test_celora_under_ray_is_refused_before_any_model_load(tmp_path, monkeypatch):
    from fl_core.run import context, loop
    from fl_core.executors.ray_actors import RayExecutor

    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the configuration was refused")

    monkeypatch.setattr(context, "load_base_model", no_load)
    with pytest.raises(ConfigError, match=r"^method 'celora' cannot train its clients under --executor ray: .*"
                                          r"use --executor local$"):
        loop.train(_cfg(method="celora"), tmp_path / "run", progress=False, executor=RayExecutor())
    assert not (tmp_path / "run").exists()


def test_cli_refuses_like_the_library(dolly_file, tmp_path):
    from click.testing import CliRunner

    from harness.cli import main

    base = ["train", "--model", "tiny-llama", "--dataset", str(dolly_file), "--clients", "6", "--participants", "3",
            "--out", str(tmp_path / "x")]
    for extra, needle in [(["--method", "hlora+ecolora"], "does not compose with EcoLoRA"),
                          (["--method", "flora", "--objective", "dpo"], "does not support objective 'dpo'"),
                          (["--method", "celora", "--participation", "fedbuff", "--links", "1/5"], "personalised"),
                          (["--schedule", "deadline", "--links", "1/5"], "needs --deadline"),
                          (["--celora-tau", "0.5"], "apply only when celora"),
                          (["--method", "celora", "--celora-tau", "0"], "--celora-tau"),
                          (["--method", "celora", "--executor", "ray"], "cannot train its clients under --executor ray")]:
        result = CliRunner().invoke(main, base + extra)
        assert result.exit_code == 2 and needle in result.output, (extra, result.output)
        assert "Traceback" not in result.output


def test_every_train_option_has_help():
    from harness.commands.train import train

    missing = [p.opts[0] for p in train.params if not getattr(p, "help", None)]
    assert not missing, f"options without help: {missing}"


def test_a_toy_schedule_is_one_class_and_one_registry_line(tiny_cfg, tmp_path, monkeypatch):
    """A schedule that trains only the first sampled client of each round."""
    from fl_core.run import loop
    from fl_core import schedules
    from fl_core.run.federation import sample_participants
    from fl_core.rundir.reader import read_run
    from fl_core.schedules.base import Schedule

    class SoloSchedule(Schedule):
        name, label = "solo", "solo rounds"

        def run(self, ctx, arrivals=None):
            ctx.start()
            for t in range(ctx.completed + 1, ctx.cfg.rounds):
                ctx.begin_round(t)
                client = sample_participants(ctx.cfg, t)[0]
                result = ctx.client_step(t, 0, client)
                ctx.save_blobs(t, client, result)
                ctx.finish_round(t, [result.row], [ctx.receive(client, result.up)])
            return ctx.close()

    monkeypatch.setitem(schedules.SCHEDULES, "solo", SoloSchedule)  # the registry line
    run = read_run(loop.train(tiny_cfg(rounds=2, participation="solo"), tmp_path / "solo", progress=False))
    assert list(run.rounds.groupby("round").size()) == [1, 1]


def test_a_toy_method_is_one_class_and_one_registry_line(tiny_cfg, tmp_path, monkeypatch):
    """FedAvg of B only, with A trained but kept local: a method in a few lines."""
    from fl_core.run import loop
    from fl_core import methods
    from fl_core.cards import MethodCard
    from fl_core.methods.base import SingleAdapterMethod
    from fl_core.rundir.reader import read_run

    class LocalA(SingleAdapterMethod):
        name = "local-a"
        exchanged_kinds, trained_kinds = "B", "AB"

    monkeypatch.setitem(methods.METHODS, "local-a", MethodCard("local-a", LocalA))  # the registry line
    run = read_run(loop.train(tiny_cfg(method="local-a", rounds=1), tmp_path / "toy", progress=False))
    assert run.meta["method"] == "local-a" and len(run.rounds) == 3


def test_old_run_json_settings_are_read():
    cfg = RunConfig.from_dict({"method": "celora", "extra": {"dpo_beta": 0.2, "celora_tau": 0.5}})
    assert cfg.settings == {"dpo": {"beta": 0.2}, "celora": {"tau": 0.5}}
    from fl_core.methods.celora_config import CELoRAConfig

    assert cfg.settings_of("celora", CELoRAConfig).tau == 0.5


def test_cards_match_their_implementations():
    """A card is the one declaration: each class carries its card's capabilities, its download policy and
    the evaluations ``--evals`` may name exist."""
    from fl_core.cards import BENCHMARK_NAMES
    from fl_core.evaluation.metrics import BENCHMARKS
    from fl_core.methods import METHODS
    from fl_core.objectives import OBJECTIVES
    from fl_core.transports.downloads import DOWNLOAD_POLICIES

    assert set(BENCHMARKS) == set(BENCHMARK_NAMES)
    for name, card in METHODS.items():
        cls = card.load()
        assert cls.name == name and cls.composes_with_ecolora == card.composes_with_ecolora
        assert cls.config_type is card.config_type and cls.objectives == card.objectives
        assert card.ecolora_download in DOWNLOAD_POLICIES
    for name, card in OBJECTIVES.items():
        assert card.load().name == name
