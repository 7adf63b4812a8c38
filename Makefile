# make test: set up .venv if needed, run the test suite (every tier; what CI runs).
# make test-fast: the unit tier only (tests/unit; about a minute on 2 cores).
# make lint: ruff check (rules and line length in pyproject.toml).
# make demo: set up, then run the quickstart: the whole two-stage pipeline on a generated mini VOC.
# make mutate: mutation testing of the math modules (tools/mutation/*.toml; hours, not in CI).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_PIPELINE := configs/pipelines/quickstart_fma-wsss_vit-b16_minivoc.py

.PHONY: setup test test-fast lint demo mutate clean-venv

setup:
	@bash tools/setup_env.sh

# Tests in TEST_WORKERS processes (pytest-xdist; auto: one per core, at most 4), each test module
# whole in one of them, so that its module fixtures run once; TEST_WORKERS=0: in this process.
TEST_WORKERS ?= auto
PYTEST := OMP_NUM_THREADS=1 $(PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadscope

test: setup
	# one thread per process: the tests start tools beside each other on few cores
	$(PYTEST) tests

test-fast: setup
	$(PYTEST) tests/unit -q

lint: setup
	$(PY) -m ruff check .

demo: setup
	@[ -f data/mini_voc/ImageSets/Segmentation/val.txt ] || $(PY) -m wsss.datasets.synthetic data/mini_voc
	$(PY) tools/run_pipeline.py $(DEMO_PIPELINE)

# each module in a copy of the tracked files: cosmic-ray edits the sources it mutates, so an
# interrupted run never leaves a mutant in the checkout; MUTATE=cam runs one module
MUTATE ?= $(basename $(notdir $(wildcard tools/mutation/*.toml)))
MUTATE_DIR := work_dirs/mutation
mutate: setup
	$(PY) -m pip install -q -e ".[mutate]"
	@for name in $(MUTATE); do \
	  tree=$(MUTATE_DIR)/$$name; rm -rf $$tree; mkdir -p $$tree; \
	  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - \
	    | tar -xf - -C $$tree; \
	  ( cd $$tree && export PATH=$(abspath $(VENV))/bin:$$PATH OMP_NUM_THREADS=1 PYTHONPATH=. && \
	    cosmic-ray baseline tools/mutation/$$name.toml && \
	    cosmic-ray init tools/mutation/$$name.toml session.sqlite && \
	    cosmic-ray exec tools/mutation/$$name.toml session.sqlite && \
	    cr-report --surviving-only --show-diff session.sqlite > survivors.txt; \
	    echo "$$name: $$(tail -n 3 survivors.txt | tr '\n' ' ') ($$tree/survivors.txt)" ); \
	done

clean-venv:
	rm -rf $(VENV)
