# host/models/models.mk: offline retraining of the demo models. Python and
# PyTorch are needed here only; nothing in all, run or test depends on this
# fragment, the trained models are committed.
#
#   make train-fmnist     retrain host/models/fmnist_cnn.onnx and its samples
#
# TRAIN_PKGS are the Debian packages the training scripts use; as root the
# missing ones are installed, otherwise the apt command is printed. The
# scripts run under Debian's /usr/bin/python3, which sees them.

TRAIN_PKGS   := python3-torch python3-onnx python3-numpy dataset-fashion-mnist
TRAIN_PYTHON ?= /usr/bin/python3

.PHONY: train-deps train-fmnist
train-deps:
	$(call apt_ensure,train-deps,$(TRAIN_PKGS))

train-fmnist: train-deps
	$(TRAIN_PYTHON) host/models/train_fmnist.py --out host/models
