# VGGNet in PyTorch: every command a learner or an instructor needs.
#   make lab              set up (first time) and open JupyterLab on notebooks/
#   make test             set up (first time) and run every test, every notebook included
#   make prefetch         download every pretrained weights file the course uses
#   make test-pretrained  check real predictions (needs the real weights: make prefetch)

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: lab test prefetch test-pretrained benchmark clean-outputs clean

# The stamp is rebuilt when pyproject.toml changes, so a new package lands by itself.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

test: $(STAMP)
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env --durations=20

prefetch: $(STAMP)
	$(BIN)/python -m course_utils.prefetch

test-pretrained: $(STAMP)
	COURSE_REAL_WEIGHTS=1 $(BIN)/python -m pytest tests -m pretrained -rs

benchmark: $(STAMP)
	$(BIN)/python benchmarks/gradcam_speed.py
	$(BIN)/python benchmarks/train_speed.py

# Strip outputs before committing a notebook you ran in JupyterLab.
clean-outputs: $(STAMP)
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

clean:
	rm -rf $(VENV) .cache
