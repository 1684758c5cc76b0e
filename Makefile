# VGGNet in PyTorch: every command a learner or an instructor needs.
#   make lab              set up (first time) and open JupyterLab on notebooks/
#   make test             set up (first time) and run every test, every notebook included
#   make test-browser     open the course in JupyterLab in headless Chromium and use its widgets
#   make test-rerun       run notebook 10 three times in one kernel: memory must come back
#   make prefetch         download every pretrained weights file the course uses
#   make test-pretrained  check real predictions (needs the real weights: make prefetch)
#   make site             the course as a static website with outputs (.cache/site/_build/html)
#   make handouts         one PDF per notebook page (.cache/handouts/), printed by Chromium
#   make measure          time and memory of every notebook, for the instructor's guide

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

PORT   ?= 8888
IP     ?= localhost

.PHONY: lab test test-rerun test-browser prefetch test-pretrained benchmark clean-outputs clean site handouts measure test-site

# The stamp is rebuilt when pyproject.toml changes, so a new package lands by itself.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# A venv from before the switch to opencv-python-headless holds both: remove the GUI one, then
	@# reinstall headless, whose cv2/ files that uninstall also deleted (both ship cv2/).
	@if $(BIN)/python -m pip show opencv-python >/dev/null 2>&1; then \
		$(BIN)/python -m pip uninstall --yes --quiet opencv-python && \
		$(BIN)/python -m pip install --quiet --force-reinstall --no-deps "opencv-python-headless==$$( \
			$(BIN)/python -m pip show opencv-python-headless | sed -n 's/^Version: //p')"; \
	fi
	@touch $(STAMP)

# As root (containers, CI) it adds --allow-root and says so; it prints the address to open,
# token included. `make lab PORT=9000`; `make lab IP=0.0.0.0` opens it to a container's host
# (still with the token).
lab: $(STAMP)
	$(BIN)/python scripts/lab.py --port $(PORT) --ip $(IP) $(LAB_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env --durations=20

# A learner's second "Run All": the previous run's model must be released (about a minute).
test-rerun: $(STAMP)
	COURSE_RERUN_TEST=1 $(BIN)/python -m pytest tests/test_rerun_memory.py -q

# The course in a real browser: JupyterLab driven by headless Chromium (Playwright).
# CHROMIUM=/path/to/chromium picks the browser; by default Debian's, then Playwright's own.
test-browser: $(STAMP)
	CHROMIUM="$(CHROMIUM)" $(BIN)/python -m pytest browser_tests -x --durations=10

prefetch: $(STAMP)
	$(BIN)/python -m course_utils.prefetch

test-pretrained: $(STAMP)
	COURSE_REAL_WEIGHTS=1 $(BIN)/python -m pytest tests -m pretrained -rs

# The site's packages (Jupyter Book 1, offline MathJax) are the `site` extra: only these targets need them.
SITE_STAMP = $(VENV)/.installed-site
$(SITE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,site]'
	@touch $(SITE_STAMP)

# Reuses the notebooks `make test` executed (.cache/executed/) and runs only the stale ones.
site: $(SITE_STAMP)
	$(BIN)/python -m coursesite.build $(SITE_ARGS)

handouts: site
	CHROMIUM="$(CHROMIUM)" $(BIN)/python -m coursesite.handouts

# Writes docs/measurements.json and docs/measurements.md (commit them); run on an idle machine.
measure: $(SITE_STAMP)
	$(BIN)/python -m coursesite.measure

# After `make test`: builds the site and the handouts, then checks them.
test-site: handouts
	COURSE_SITE_BUILT=1 $(BIN)/python -m pytest tests/test_site.py -q

benchmark: $(STAMP)
	$(BIN)/python benchmarks/gradcam_speed.py
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python benchmarks/ddp_speed.py

# Strip outputs before committing a notebook you ran in JupyterLab.
clean-outputs: $(STAMP)
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

clean:
	rm -rf $(VENV) .cache
