"""Writers of run directories for federated-learning frameworks other than ``netbench train``.

Each subpackage is one framework's recorder; the replay side never learns where a run came
from except through ``run.json`` (docs/ARCHITECTURE.md, the run directory).
"""
