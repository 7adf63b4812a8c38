# make test: set up .venv if needed, run the test suite.
# make demo: set up, then run the quickstart: the whole two-stage pipeline on a generated mini VOC.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_PIPELINE := configs/pipelines/quickstart_fma-wsss_vit-b16_minivoc.py

.PHONY: setup test demo clean-venv

setup:
	@bash tools/setup_env.sh

test: setup
	# one thread per process: the tests start tools beside each other on few cores
	OMP_NUM_THREADS=1 $(PY) -m pytest tests

demo: setup
	@[ -f data/mini_voc/ImageSets/Segmentation/val.txt ] || $(PY) -m wsss.datasets.synthetic data/mini_voc
	$(PY) tools/run_pipeline.py $(DEMO_PIPELINE)

clean-venv:
	rm -rf $(VENV)
