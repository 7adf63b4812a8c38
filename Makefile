# make test: set up .venv if needed, run the test suite.   make demo: set up, run the quickstart.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_CFG := configs/quickstart/deeplabv3plus_r18-tiny_1xb8-300_minivoc-64x64.py
DEMO_DIR := work_dirs/quickstart

.PHONY: setup test demo clean-venv

setup:
	@bash tools/setup_env.sh

test: setup
	# one thread per process: the tests start tools beside each other on few cores
	OMP_NUM_THREADS=1 $(PY) -m pytest tests

demo: setup
	@[ -f data/mini_voc/ImageSets/Segmentation/val.txt ] || $(PY) -m wsss.datasets.synthetic data/mini_voc
	$(PY) tools/train.py $(DEMO_CFG) --work-dir $(DEMO_DIR)
	$(PY) tools/test.py $(DEMO_CFG) $(DEMO_DIR)/iter_300.pth --work-dir $(DEMO_DIR) --show-dir vis

clean-venv:
	rm -rf $(VENV)
