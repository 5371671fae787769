"""The Alpaca prompt template (Taori et al., 2023), as used by FedIT/OpenFedLLM.

``format_full`` returns the prompt and the response separately: the trainer
tokenises both, concatenates them and computes the loss on the response
tokens only. Nothing here tokenises or masks.
"""

from __future__ import annotations

from fl_core.data.records import Example, PreferencePair

PREAMBLE_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides "
    "further context. Write a response that appropriately completes the request."
)
PREAMBLE_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request."
)
RESPONSE_HEADER = "### Response:\n"


def _prompt(instruction: str, context: str) -> str:
    """The Alpaca prompt for one instruction, with the Input block only when there is context."""
    if context.strip():
        return (
            f"{PREAMBLE_WITH_INPUT}\n\n### Instruction:\n{instruction}\n\n"
            f"### Input:\n{context}\n\n{RESPONSE_HEADER}"
        )
    return f"{PREAMBLE_NO_INPUT}\n\n### Instruction:\n{instruction}\n\n{RESPONSE_HEADER}"


def format_prompt(example: Example) -> str:
    """The prompt the model sees, ending with ``### Response:`` and a newline."""
    return _prompt(example.instruction, example.context)


def format_full(example: Example) -> tuple[str, str]:
    """``(prompt, response)``: the text is ``prompt + response``; the loss covers ``response`` only."""
    return format_prompt(example), example.response


def format_preference(pair: PreferencePair) -> tuple[str, str, str]:
    """``(prompt, chosen, rejected)`` with the preference prompt in the same Alpaca template."""
    return _prompt(pair.prompt, ""), pair.chosen, pair.rejected
