# Two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# CPU build of torch for laptops and CI; GPU images install their own torch first.
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= demo_out

.PHONY: venv demo test bench gpu-check lint clean

$(BIN)/tgram: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $(BIN)/tgram

venv: $(BIN)/tgram

demo: venv
	$(BIN)/python -m jobs.demo --out $(DEMO_OUT)

test: venv
	$(BIN)/python -m pytest -q tests

# trackers (ByteTrack, the peer of the tracker benchmark) declares the non-headless
# opencv-python; it only needs cv2, which opencv-python-headless provides: no deps here.
bench: venv
	$(BIN)/pip install -q -c constraints.txt --no-deps "trackers==2.6.1"
	$(BIN)/pip install -q -c constraints.txt -e ".[bench]"
	$(BIN)/python -m tests.bench.run

# Every GPU figure in one command of < 10 minutes (tests/bench/gpu_check.py). On a GPU image with
# the packages installed, skip the venv: `make gpu-check GPU_PY=python3`. On a CPU, DRY_RUN=1
# runs every part at toy size.
GPU_PY ?= $(BIN)/python
gpu-check:
	$(if $(filter $(BIN)/python,$(GPU_PY)),$(MAKE) venv)
	$(GPU_PY) -m tests.bench.gpu_check $(if $(DRY_RUN),--dry-run --results $(or $(RESULTS),/tmp/tgram_gpu_check.jsonl))

lint: venv
	$(BIN)/ruff check tgram jobs tests setup.py
	$(BIN)/ruff format --check tgram jobs tests setup.py

clean:
	rm -rf $(VENV) $(DEMO_OUT)
