# VGGNet in PyTorch: `make X` is `python3 course.py X`. The work is done by course.py (standard
# library only, so Windows and macOS need no make); `python3 course.py --help` lists it all.
#   make lab              set up (first time) and open JupyterLab on notebooks/
#   make test             set up (first time) and run every test, every notebook included
#   make test-browser     open the course in JupyterLab in headless Chromium and use its widgets
#   make test-rerun       run notebook 10 three times in one kernel: memory must come back
#   make test-offline     install from a bundle and run notebook 00 with the network cut off
#   make prefetch         download every pretrained weights file the course uses
#   make test-pretrained  check real predictions (needs the real weights: make prefetch)
#   make site             the course as a static website with outputs (.cache/site/_build/html)
#   make handouts         one PDF per notebook page (.cache/handouts/), printed by Chromium
#   make measure          time and memory of every notebook, for the instructor's guide
#   make bundle BUNDLE_DIR=/media/stick/vgg-bundle BUNDLE_ARGS=--with-tests   (for this OS; see course.py bundle --help)

PYTHON ?= python3
PORT   ?= 8888
IP     ?= localhost
BUNDLE_DIR ?= .cache/bundle

.PHONY: lab test test-rerun test-browser prefetch test-pretrained site handouts measure test-site benchmark \
	clean-outputs clean install bundle test-offline

# `make lab PORT=9000`, `make lab IP=0.0.0.0`; LAB_ARGS go to JupyterLab.
lab:
	$(PYTHON) course.py lab --port $(PORT) --ip $(IP) -- $(LAB_ARGS)

test:
	$(PYTHON) course.py test

test-rerun:
	$(PYTHON) course.py test-rerun

# CHROMIUM=/path/to/chromium picks the browser; by default Debian's, then Playwright's own.
test-browser:
	CHROMIUM="$(CHROMIUM)" $(PYTHON) course.py test-browser

prefetch:
	$(PYTHON) course.py prefetch

test-pretrained:
	$(PYTHON) course.py test-pretrained

site:
	$(PYTHON) course.py site -- $(SITE_ARGS)

handouts:
	CHROMIUM="$(CHROMIUM)" $(PYTHON) course.py handouts -- $(SITE_ARGS)

measure:
	$(PYTHON) course.py measure

test-site:
	CHROMIUM="$(CHROMIUM)" $(PYTHON) course.py test-site -- $(SITE_ARGS)

benchmark:
	$(PYTHON) course.py benchmark

clean-outputs:
	$(PYTHON) course.py clean-outputs

clean:
	$(PYTHON) course.py clean

install:
	$(PYTHON) course.py install

bundle:
	$(PYTHON) course.py bundle $(BUNDLE_DIR) $(BUNDLE_ARGS)

test-offline:
	$(PYTHON) course.py test-offline
