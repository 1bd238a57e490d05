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
# is llama.cpp's gguf-py, from the llama.cpp source that the npm package
# node-llama-cpp ships as a git bundle (cloned under build/, never
# committed). LLAMA_BUNDLE may point at an existing copy of that bundle.
TRAIN_LLM_PKGS := python3-torch python3-sentencepiece python3-numpy git npm \
                  fortunes fortunes-min fortunes-zh rime-data-jyut6ping3
LLM_DIR        := host/models/llm
LLM_WORK       := build/llm
LLM_NPM        := $(LLM_WORK)/npm
LLAMA_BUNDLE   ?= $(LLM_NPM)/node_modules/node-llama-cpp/llama/gitRelease.bundle
LLAMA_SRC      := $(LLM_WORK)/llama.cpp
LLM_SEED       ?= 1234
LLM_STEPS      ?= 160

train-llm-deps:
	$(call apt_ensure,train-llm-deps,$(TRAIN_LLM_PKGS))

$(LLM_NPM)/node_modules/node-llama-cpp/llama/gitRelease.bundle:
	mkdir -p $(LLM_NPM)
	cd $(LLM_NPM) && npm i -E --ignore-scripts --no-save node-llama-cpp@3.21.1

$(LLAMA_SRC)/gguf-py/gguf/__init__.py: | $(LLAMA_BUNDLE)
	rm -rf $(LLAMA_SRC)
	git clone -q $(LLAMA_BUNDLE) $(LLAMA_SRC)

train-llm: train-llm-deps $(LLAMA_SRC)/gguf-py/gguf/__init__.py
	$(TRAIN_PYTHON) $(LLM_DIR)/train.py --seed $(LLM_SEED) --steps $(LLM_STEPS) --work $(LLM_WORK) --out $(LLM_DIR)
	PYTHONPATH=$(LLAMA_SRC)/gguf-py $(TRAIN_PYTHON) $(LLM_DIR)/export.py \
	  --ckpt $(LLM_WORK)/model.pt --tokenizer $(LLM_DIR)/tokenizer.model --out $(LLM_DIR)
