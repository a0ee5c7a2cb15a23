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
# The suite runs in two pytest-xdist workers: most tests spend their time in one Python thread
# (tracing, compiling, small tiny-model ops), so two workers use both cores of the CI machine
# (2 cores: 874 s against 1,164 s in one process, both beside other jobs; README). Whole files
# go to a worker (--dist loadfile), so a module's session fixtures are built once: every test of
# the int8 export (~90 s to build) is in tests/export/test_int8_classifier.py. (xdist's loadgroup
# does not group under pytest 9.2.) `make test TEST_WORKERS=0` runs the suite in one process.
TEST_WORKERS ?= 2

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
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) runs .pytest_cache
