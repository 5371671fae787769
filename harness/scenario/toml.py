"""Scenario files: TOML in, :class:`~harness.scenario.Scenario` out, one clear error per mistake.

Every refusal is a :class:`~ns3_scenarios.errors.ScenarioError` whose message starts with
the file and the dotted key (``lossy.toml: link.uplink.loss.p_good_bad: invalid value 1.5:
must be in [0, 1]``). Rates and durations need their unit (``"5Mbps"``, ``"50ms"``);
trace files are relative to the scenario file. The format is documented, with an
example, in ``docs/NETWORK.md``.
"""
from __future__ import annotations

import dataclasses
import inspect
import numbers
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.scenario.spec import (ClientLinks, ComputeSpeed, Scenario, check_number, engines, parse_duration,
                                   parse_rate, probability)
from ns3_scenarios import trace_library, traces
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.links import Connection, CrossTraffic, GilbertElliott, Impairments, Loss, Queue, RandomLoss
from ns3_scenarios.network import DEFAULT_LATENCY_S, DEFAULT_TCP, MAX_LATENCY_S, Network
from ns3_scenarios.tcp import TCP_CONFIGS

TOP_KEYS = ("name", "description", "seed", "link", "links", "clients", "compute", "server", "connection", "engine",
            "round")
LINK_KEYS = ("up", "down", "latency", "tcp", "loss", "trace", "queue", "cross", "uplink", "downlink")
DIRECTION_KEYS = ("loss", "trace")
LOSS_KINDS = {"random": RandomLoss, "gilbert-elliott": GilbertElliott, "gilbert_elliott": GilbertElliott}


class _Context:
    """Where the file lives (for relative trace paths) and how to prefix error messages."""

    def __init__(self, origin: str, folder: Path | None) -> None:
        self.origin = origin
        self.folder = folder

    def error(self, exc: ScenarioError) -> ScenarioError:
        return ScenarioError(f"{self.origin}: {exc}")


def _table(value: Any, where: str, expected: str = "a table") -> dict:
    """``value`` as a dict; otherwise one line naming ``where`` and what is ``expected`` (with its short forms)."""
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected {expected}, got {value!r}")
    return dict(value)


#: what is shown when a value is given where these tables are expected
_DIRECTION_EXAMPLE = "a table such as {loss = 0.01} (or loss = 0.01 directly under the link, for both directions)"
_QUEUE_EXAMPLE = 'a table such as {limit = 100, unit = "packets"}'


def _keys(table: Mapping, allowed: tuple[str, ...] | list[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ScenarioError(f"{where + '.' if where else ''}{key}: unknown key; expected one of "
                                f"{', '.join(allowed)}")


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: invalid value {value!r}: expected a string")
    return value


def _merge(base: Mapping, override: Mapping) -> dict:
    """``override`` on top of ``base``, merging nested tables (``uplink``, ``queue`` ...) one key at a time."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) \
            else value
    return out


# --------------------------------------------------------------------------------------------- impairments

def _convert(key: str, value: Any, names: list[str], where: str) -> tuple[str, Any]:
    """The field a TOML key fills and its value: ``rate`` -> ``rate`` (as is), ``rate_bps`` (unit), ``start_s`` ..."""
    if key in names:
        return key, value
    if f"{key}_bps" in names:
        return f"{key}_bps", parse_rate(value, where)
    if f"{key}_s" in names:
        return f"{key}_s", parse_duration(value, where)
    shown = [n.removesuffix("_bps").removesuffix("_s") for n in names]
    raise ScenarioError(f"{where}: unknown key; expected one of {', '.join(shown)}")


def build(cls: type, table: Mapping, where: str, **fixed: Any) -> Any:
    """An instance of dataclass ``cls`` from a TOML table, keys matched to fields (units by suffix)."""
    names = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in fixed]
    kwargs = dict(fixed)
    for key, value in table.items():
        name, converted = _convert(key, value, names, f"{where}.{key}")
        kwargs[name] = tuple(converted) if isinstance(converted, list) else converted
    try:
        return cls(**kwargs)
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    except TypeError as exc:  # a required field left out
        raise ScenarioError(f"{where}: {exc}") from None


def _call(fn: Any, table: Mapping, where: str, **fixed: Any) -> Any:
    """``fn(**table)`` with keys matched to its parameters as :func:`build` does."""
    names = [p for p in inspect.signature(fn).parameters if p not in fixed]
    kwargs = dict(fixed)
    for key, value in table.items():
        name, converted = _convert(key, value, names, f"{where}.{key}")
        kwargs[name] = converted
    try:
        return fn(**kwargs)
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def parse_loss(value: Any, where: str) -> Loss | None:
    """``0.01`` (random loss) or a table: ``{kind = "random", rate = 0.01}``, ``{kind = "gilbert-elliott",
    p_good_bad = ..., p_bad_good = ..., loss_good = 0, loss_bad = 1}`` or ``{kind = "gilbert-elliott",
    rate = 0.01, mean_burst = 4}`` (the channel with that stationary loss and mean burst)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return build(RandomLoss, {"rate": value}, where)
    table = _table(value, where, 'a rate such as 0.01 or a table such as {kind = "gilbert-elliott", rate = 0.01, '
                                 'mean_burst = 4}')
    kind = table.pop("kind", "random")
    if kind not in LOSS_KINDS:
        raise ScenarioError(f"{where}.kind: unknown loss kind {kind!r}: expected one of {', '.join(LOSS_KINDS)}")
    if LOSS_KINDS[kind] is GilbertElliott and ("rate" in table or "mean_burst" in table):
        _keys(table, ("rate", "mean_burst"), where)
        return _call(GilbertElliott.from_rate, {"loss": table.get("rate"), "mean_burst": table.get("mean_burst")},
                     where)
    return build(LOSS_KINDS[kind], table, where)


def parse_trace(value: Any, where: str, ctx: _Context, direction: str = "up") -> Any:
    """``"file.csv"``, ``{file = "..."}`` (CSV ``time_s,mbps`` or mahimahi), ``{generate = {...}}``, or a
    measured trace of the library: ``"trace/<name>"`` / ``{library = "trace/<name>"}`` (its ``direction``)."""
    if isinstance(value, str):
        value = {"library": value} if value.startswith(trace_library.PREFIX) else {"file": value}
    table = _table(value, where, 'a file name such as "trace.csv", a library trace such as "trace/<name>", or a table '
                                 'such as {generate = {mean = "5Mbps"}}')
    _keys(table, ("file", "generate", "library"), where)
    if len(table) != 1:
        raise ScenarioError(f"{where}: give exactly one of file, generate, library")
    if "library" in table:
        try:
            return trace_library.get(_string(table["library"], f"{where}.library")).trace(direction)
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
    if "file" in table:
        path = Path(_string(table["file"], f"{where}.file"))
        if not path.is_absolute() and ctx.folder is not None:
            path = ctx.folder / path
        try:
            return traces.read_trace(path)
        except ScenarioError as exc:
            raise ScenarioError(f"{where}.file: {exc}") from None
        except OSError as exc:
            raise ScenarioError(f"{where}.file: cannot read trace {str(path)!r}: {exc.strerror}") from None
    return _call(traces.generate_trace, _table(table["generate"], f"{where}.generate"), f"{where}.generate")


def _direction(table: Mapping, where: str, ctx: _Context, shorthand: Mapping, shorthand_where: str,
               direction: str) -> Any:
    """One direction's (``"up"``/``"down"``) ``Impairments`` from its table, falling back to the link-level shorthands."""
    _keys(table, DIRECTION_KEYS, where)
    paths = {k: f"{where}.{k}" if k in table else f"{shorthand_where}.{k}" for k in DIRECTION_KEYS}
    merged = {**shorthand, **table}
    if not merged:
        return None
    loss = parse_loss(merged["loss"], paths["loss"]) if "loss" in merged else None
    trace = parse_trace(merged["trace"], paths["trace"], ctx, direction) if "trace" in merged else None
    if loss is None and trace is None:
        return None
    try:
        return Impairments(loss=loss, trace=trace)
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


# --------------------------------------------------------------------------------------------- links

def parse_link(table: Mapping, where: str, ctx: _Context, *, server_link_bps: float | None = None,
               connection: Any = None) -> Network:
    """A :class:`Network` from a ``[link]``-shaped table (see ``LINK_KEYS``)."""
    table = _table(table, where)
    _keys(table, LINK_KEYS, where)
    for key in ("up", "down"):
        if key not in table:
            raise ScenarioError(f"{where}.{key}: missing; give the {key}link rate with a unit, e.g. \"5Mbps\"")
    fields: dict[str, Any] = {
        "up_bps": parse_rate(table["up"], f"{where}.up"),
        "down_bps": parse_rate(table["down"], f"{where}.down"),
        "latency_s": parse_duration(table["latency"], f"{where}.latency", maximum=MAX_LATENCY_S)
        if "latency" in table else DEFAULT_LATENCY_S,
        "tcp": _string(table.get("tcp", DEFAULT_TCP), f"{where}.tcp"),
        "server_link_bps": server_link_bps,
    }
    if fields["tcp"] not in TCP_CONFIGS:
        raise ScenarioError(f"{where}.tcp: unknown TCP config {fields['tcp']!r}: expected one of "
                            f"{', '.join(TCP_CONFIGS)}")
    shorthand = {k: table[k] for k in DIRECTION_KEYS if k in table}
    for key, name in (("uplink", "up"), ("downlink", "down")):
        impairments = _direction(_table(table.get(key, {}), f"{where}.{key}", _DIRECTION_EXAMPLE), f"{where}.{key}",
                                 ctx, shorthand, where, name)
        if impairments is not None:
            fields[name] = impairments
    if "queue" in table:
        fields["queue"] = build(Queue, _table(table["queue"], f"{where}.queue", _QUEUE_EXAMPLE), f"{where}.queue")
    if "cross" in table:
        flows = table["cross"]
        if not isinstance(flows, list):
            raise ScenarioError(f"{where}.cross: expected an array of tables ([[{where}.cross]])")
        fields["cross"] = tuple(build(CrossTraffic, _table(f, f"{where}.cross[{i}]"), f"{where}.cross[{i}]")
                                for i, f in enumerate(flows))
    if connection is not None:
        fields["connection"] = connection
    try:
        return Network(**fields)
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def trace_link(name: str) -> dict:
    """The ``[link]`` keys of library trace ``name``: its mean rates (the closed form's), each measured direction's
    trace; an unmeasured uplink stays constant at :data:`~ns3_scenarios.trace_library.UNMEASURED_UPLINK_SHARE`
    of the downlink's mean."""
    entry = trace_library.get(name)
    link: dict[str, Any] = {"up": f"{entry.mean_bps('up') / 1e6:.6g}Mbps", "down": f"{entry.mean_bps('down') / 1e6:.6g}Mbps"}
    for direction in entry.measured:
        link[trace_library.DIRECTION_NAMES[direction]] = {"trace": {"library": entry.id}}
    return link


def _trace_choices(value: Any) -> list[dict]:
    """``links.traces``: one link choice per library trace the globs match (a seeded draw per client)."""
    if not isinstance(value, list) or not value:
        raise ScenarioError(f"links.traces: invalid value {value!r}: expected a non-empty array such as "
                            "[\"trace/*-lte-*\"]")
    return [trace_link(name) for name in trace_library.match(value, "links.traces")]


def _client_ids(value: Any, where: str) -> list[int]:
    if not isinstance(value, list) or not value:
        raise ScenarioError(f"{where}: expected a non-empty array of client ids, e.g. [0, 3]")
    return [check_number(v, f"{where}[{i}]", low=0, integer=True) for i, v in enumerate(value)]


def _parse_links(doc: Mapping, link_table: Mapping, ctx: _Context, **common: Any) -> ClientLinks:
    mix, weights, draw, seed = (), None, "cycle", None
    if "links" in doc:
        table = _table(doc["links"], "links")
        _keys(table, ("draw", "seed", "choice", "traces"), "links")
        draw = _string(table.get("draw", "random"), "links.draw")
        if draw not in ("cycle", "random"):
            raise ScenarioError(f"links.draw: invalid value {draw!r}: expected cycle or random")
        seed = check_number(table["seed"], "links.seed", low=0, integer=True) if "seed" in table \
            else doc.get("seed", 0)
        choices = table.get("choice")
        if "traces" in table:
            if choices is not None:
                raise ScenarioError("links: give either traces or [[links.choice]], not both")
            if "trace" in link_table or any(isinstance(link_table.get(k), Mapping) and "trace" in link_table[k]
                                            for k in ("uplink", "downlink")):
                raise ScenarioError("links.traces: [link] has a trace, which a choice whose direction was not "
                                    "measured would inherit; remove it from [link]")
            choices = _trace_choices(table["traces"])
        if not isinstance(choices, list) or not choices:
            raise ScenarioError("links.choice: missing; give one [[links.choice]] table per kind of link, or "
                                "traces = [\"trace/...\"] (measured traces, one link each)")
        nets, ws = [], []
        for i, choice in enumerate(choices):
            where = f"links.choice[{i}]"
            choice = _table(choice, where)
            ws.append(choice.pop("weight", None))
            nets.append(parse_link(_merge(link_table, choice), where, ctx, **common))
        if any(w is not None for w in ws):
            if any(w is None for w in ws):
                raise ScenarioError("links.choice: give a weight to every choice or to none")
            weights = tuple(check_number(w, f"links.choice[{i}].weight", low=0.0, low_open=True)
                            for i, w in enumerate(ws))
        mix = tuple(nets)
    overrides: dict[int, Network] = {}
    for i, entry in enumerate(_clients(doc)):
        keys = {k: v for k, v in entry.items() if k not in ("ids", "compute")}
        if keys:
            net = parse_link(_merge(link_table, keys), f"clients[{i}]", ctx, **common)
            for c in _client_ids(entry.get("ids"), f"clients[{i}].ids"):
                overrides[c] = net
    return ClientLinks(mix=mix, weights=weights, draw=draw, seed=seed, overrides=overrides)


def _clients(doc: Mapping) -> list[dict]:
    entries = doc.get("clients", [])
    if not isinstance(entries, list):
        raise ScenarioError("clients: expected an array of tables ([[clients]])")
    seen: dict[int, int] = {}
    out = []
    for i, entry in enumerate(entries):
        entry = _table(entry, f"clients[{i}]")
        _keys(entry, ("ids", "compute", *LINK_KEYS), f"clients[{i}]")
        for c in _client_ids(entry.get("ids"), f"clients[{i}].ids"):
            if c in seen:
                raise ScenarioError(f"clients[{i}].ids: client {c} is already in clients[{seen[c]}]")
            seen[c] = i
        out.append(entry)
    return out


def _parse_compute(doc: Mapping) -> ComputeSpeed:
    table = _table(doc.get("compute", {}), "compute")
    _keys(table, ("scale", "lognormal_sigma", "mixture"), "compute")
    scale = check_number(table["scale"], "compute.scale", low=0.0, low_open=True) if "scale" in table else None
    sigma = check_number(table.get("lognormal_sigma", 0.0), "compute.lognormal_sigma", low=0.0)
    mixture = []
    entries = table.get("mixture", [])
    if not isinstance(entries, list):
        raise ScenarioError("compute.mixture: expected an array of tables ([[compute.mixture]])")
    for i, entry in enumerate(entries):
        where = f"compute.mixture[{i}]"
        entry = _table(entry, where)
        _keys(entry, ("weight", "factor"), where)
        for key in ("weight", "factor"):
            if key not in entry:
                raise ScenarioError(f"{where}.{key}: missing")
        mixture.append((check_number(entry["weight"], f"{where}.weight", low=0.0, low_open=True),
                        check_number(entry["factor"], f"{where}.factor", low=0.0, low_open=True)))
    overrides = {}
    for i, entry in enumerate(_clients(doc)):
        if "compute" in entry:
            factor = check_number(entry["compute"], f"clients[{i}].compute", low=0.0, low_open=True)
            for c in _client_ids(entry["ids"], f"clients[{i}].ids"):
                overrides[c] = factor
    return ComputeSpeed(scale=scale, mixture=tuple(mixture), lognormal_sigma=sigma, overrides=overrides)


def _parse_engine(doc: Mapping, default: str) -> tuple[str, Any]:
    table = _table(doc.get("engine", {}), "engine")
    registry = engines()
    _keys(table, ("name", *registry), "engine")
    name = _string(table.get("name", default), "engine.name")
    if name not in registry:
        raise ScenarioError(f"engine.name: unknown engine {name!r}: expected one of {', '.join(registry)}")
    for other in table:
        if other not in ("name", name):
            raise ScenarioError(f"engine.{other}: settings for engine {other!r}, but the engine is {name!r}")
    settings_type = getattr(registry[name], "settings_type", None)
    settings = table.get(name, {})
    if settings_type is None:
        if settings:
            raise ScenarioError(f"engine.{name}: engine {name!r} takes no settings")
        return name, None
    return name, settings_type.from_mapping(_table(settings, f"engine.{name}"), f"engine.{name}")


def _parse_round(doc: Mapping) -> dict:
    table = _table(doc.get("round", {}), "round")
    _keys(table, ("schedule", "deadline", "over_selection", "availability"), "round")
    out: dict[str, Any] = {}
    if "schedule" in table:
        out["schedule"] = _string(table["schedule"], "round.schedule")
    if "deadline" in table:
        out["deadline_s"] = parse_duration(table["deadline"], "round.deadline")
        if out["deadline_s"] <= 0:
            raise ScenarioError(f"round.deadline: invalid duration {table['deadline']!r}: must be > 0")
    if "over_selection" in table:
        out["over_selection"] = check_number(table["over_selection"], "round.over_selection", low=1.0)
    if "availability" in table:
        out["availability"] = probability(table["availability"], "round.availability")
    return out


def from_mapping(doc: Mapping, *, name: str, origin: str, folder: Path | None = None) -> Scenario:
    """A :class:`Scenario` from parsed TOML; errors start with ``origin`` (the file or the built-in's name)."""
    ctx = _Context(origin, folder)
    try:
        doc = _table(doc, "scenario")
        _keys(doc, TOP_KEYS, "")
        scenario_name = _string(doc.get("name", name), "name")
        seed = check_number(doc.get("seed", 0), "seed", low=0, integer=True)
        description = _string(doc.get("description", ""), "description")
        server = _table(doc.get("server", {}), "server")
        _keys(server, ("link",), "server")
        server_link = parse_rate(server["link"], "server.link") if "link" in server else None
        connection = None
        if "connection" in doc:
            connection = build(Connection, _table(doc["connection"], "connection"), "connection")
        if "link" not in doc:
            raise ScenarioError("link: missing; give the default access link, e.g. [link] up = \"1Mbps\" "
                                "down = \"5Mbps\"")
        link_table = _table(doc["link"], "link")
        network = parse_link(link_table, "link", ctx, server_link_bps=server_link, connection=connection)
        client_links = _parse_links({**doc, "seed": seed}, link_table, ctx, connection=connection)
        compute = _parse_compute(doc)
        engine, settings = _parse_engine(doc, "star" if server_link is not None else "isolated")
        return Scenario(name=scenario_name, network=network, client_links=client_links, compute=compute,
                        engine=engine, engine_settings=settings, seed=seed, description=description,
                        **_parse_round(doc))
    except ScenarioError as exc:
        raise ctx.error(exc) from None


def load_text(text: str, *, name: str, origin: str, folder: Path | None = None) -> Scenario:
    """A :class:`Scenario` from TOML text."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{origin}: not valid TOML ({exc})") from None
    return from_mapping(doc, name=name, origin=origin, folder=folder)


def load_file(path: str | Path) -> Scenario:
    """A :class:`Scenario` from a TOML file (its name defaults to the file's stem)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) is not TOML
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario file ({exc})") from None
    return load_text(text, name=path.stem, origin=str(path), folder=path.parent)


def with_shorthand_impairments(network: Network, *, loss: float | None = None, trace: str | Path | None = None
                               ) -> Network:
    """``network`` with ``--loss RATE`` (random loss) and ``--trace FILE`` (capacity trace) on both directions;
    ``--trace trace/<name>`` puts a library trace's measured uplink and downlink each on its own direction."""
    if not loss and trace is None:
        return network
    try:
        if trace and str(trace) in trace_library.names():
            entry = trace_library.get(str(trace))
            read = {d: entry.trace(d) if d in entry.measured else None for d in ("up", "down")}
        else:
            read = dict.fromkeys(("up", "down"), traces.read_trace(trace) if trace else None)
    except ScenarioError as exc:
        raise ScenarioError(f"--trace: {exc}") from None
    lossy = parse_loss(loss, "--loss") if loss else None
    return network.with_(**{d: Impairments(loss=lossy, trace=t) for d, t in read.items()})
