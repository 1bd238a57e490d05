# host/models/models.mk: offline retraining of the demo models. Python and
# PyTorch are needed here only; nothing in all, run or test depends on this
# fragment, the trained models are committed.
#
#   make train-fmnist     retrain host/models/fmnist_cnn.onnx and its samples
#   make train-llm        retrain the trilingual language model in
#                         host/models/llm/ (tokenizer, GGUF F32 and Q8_0, log)
#
# TRAIN_PKGS are the Debian packages the training scripts use; as root the
# missing ones are installed, otherwise the apt command is printed. The
# scripts run under Debian's /usr/bin/python3, which sees them.

TRAIN_PKGS   := python3-torch python3-onnx python3-numpy dataset-fashion-mnist
TRAIN_PYTHON ?= /usr/bin/python3

.PHONY: train-deps train-fmnist train-llm-deps train-llm
train-deps:
	$(call apt_ensure,train-deps,$(TRAIN_PKGS))

train-fmnist: train-deps
	$(TRAIN_PYTHON) host/models/train_fmnist.py --out host/models

# The language model: the text comes from Debian packages; the GGUF writer
# is llama.cpp's gguf-py, from the pinned llama.cpp source that `make
# llama-src` (driver/ggml/ggml.mk) takes from the npm package
# node-llama-cpp (cloned under build/, never committed). Torch uses the
# BLAS that Debian's alternatives select: with libopenblas0-pthread
# installed it trains about 20 times faster than with the reference BLAS.
TRAIN_LLM_PKGS := python3-torch python3-sentencepiece python3-numpy \
                  libopenblas0-pthread \
                  fortunes fortunes-min fortunes-zh rime-data-jyut6ping3
LLM_DIR        := host/models/llm
LLM_WORK       := build/llm
LLM_SEED       ?= 1234
LLM_STEPS      ?= 1400
LLM_BATCH      ?= 16
LLM_THREADS    ?= 2

train-llm-deps:
	$(call apt_ensure,train-llm-deps,$(TRAIN_LLM_PKGS))

train-llm: train-llm-deps $(LLAMA_SRC_STAMP)
	$(TRAIN_PYTHON) $(LLM_DIR)/train.py --seed $(LLM_SEED) --steps $(LLM_STEPS) --batch $(LLM_BATCH) --threads $(LLM_THREADS) --eval-every 200 --work $(LLM_WORK) --out $(LLM_DIR)
	PYTHONPATH=$(LLAMA_SRC)/gguf-py $(TRAIN_PYTHON) $(LLM_DIR)/export.py \
	  --ckpt $(LLM_WORK)/model.pt --tokenizer $(LLM_DIR)/tokenizer.model --out $(LLM_DIR)
