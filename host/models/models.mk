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
	$(Q)missing=""; for p in $(TRAIN_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "train-deps: installing$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null || \
	      { echo "train-deps: apt-get install failed" >&2; exit 1; }; \
	  else \
	    echo "train-deps: missing packages; run: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

train-fmnist: train-deps
	$(TRAIN_PYTHON) host/models/train_fmnist.py --out host/models
