# Two entry points: `make demo` runs the main job end to end, `make test` runs the whole suite.
# Both create .venv on first use; the stamp file re-installs when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= runs/demo
# The venv holds libtpu (the test extra includes tpu-plan, for `tinymyo plan`); on a host without
# TPU chips jax would still try it and print libtpu's initialisation errors. The demo runs on the
# CPU this venv's jax serves; `make demo DEMO_PLATFORMS=` lets jax choose (e.g. on a TPU VM).
DEMO_PLATFORMS ?= cpu

.PHONY: demo test venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	JAX_PLATFORMS=$(DEMO_PLATFORMS) $(VENV)/bin/tinymyo demo --workdir $(DEMO_DIR)

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
