"""Method registry: ``--method`` names to cards (:class:`fl_core.cards.MethodCard`).

Adding a method is one module (a subclass of :class:`~fl_core.methods.base.SingleAdapterMethod`
or :class:`~fl_core.methods.hetero.MultiRankMethod`) plus its card in :data:`METHODS`: what it
supports, declared here so that ``fl_core.run.capabilities.check`` and the CLI read it without
importing torch; the class receives the card's attributes when it is defined.
"""
from __future__ import annotations

from fl_core.cards import MethodCard
from fl_core.errors import ConfigError
from fl_core.methods.celora_config import CELoRAConfig

_ONE_LAYOUT = dict(objectives=("sft", "dpo"), schedules=None)  # one shared layout: FedBuff's mixing works too
_MULTI_RANK = dict(reads=("ranks",), why_not="FedBuff's staleness-weighted mixing assumes one shared adapter layout, "
                           "and heterogeneous ranks have one per client")

METHODS: dict[str, MethodCard] = {c.name: c for c in (
    MethodCard("fedit", "fl_core.methods.fedit:FedIT", composes_with_ecolora=True, **_ONE_LAYOUT),
    MethodCard("ffa-lora", "fl_core.methods.ffa_lora:FFALoRA", composes_with_ecolora=True, **_ONE_LAYOUT),
    # FLoRA: DPO's frozen-base reference would move as the global adapter is merged into the base weights;
    # its EcoLoRA download is the exact stack, not a trailing broadcast adapter
    MethodCard("flora", "fl_core.methods.flora:FLoRA", composes_with_ecolora=True, ecolora_download="stack",
               **_MULTI_RANK),
    MethodCard("hlora", "fl_core.methods.hlora:HLoRA", **_MULTI_RANK),  # sft only, as FLoRA
    MethodCard("celora", "fl_core.methods.celora:CELoRA", config_type=CELoRAConfig, objectives=("sft", "dpo"),
               why_not="its downloads are personalised per client", remote_clients=False,
               remote_clients_reason="its evaluation reads each client's final local adapter from the server's "
                                     "memory, which a remote worker cannot hand back; use --executor local"),
)}


def method_card(name: str) -> MethodCard:
    """The card of ``name``; ``ConfigError`` lists the valid names otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; choose one of {', '.join(sorted(METHODS))}") from None


def get_method(name: str) -> type:
    """The strategy class for ``name`` (imports its module: torch, peft)."""
    return method_card(name).load()
