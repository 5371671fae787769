"""fl_core: real federated LoRA training that writes the exact bytes of every message.

Knows nothing of ns-3 or the harness; its output is a run directory.
"""
