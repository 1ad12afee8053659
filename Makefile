# The AE/VAE book. `make help` lists the targets.
#
# Every target installs what it needs into .venv (once; again only when pyproject.toml or
# constraints.txt change) and calls the tools by their .venv/bin paths, so no environment
# needs activating.
#
# Variables you may set (on the command line or in the environment):
#   PYTHON=python3.12      the interpreter that creates .venv (3.10 or newer)
#   AEVAE_DATA=/path       folder with the four MNIST .gz files (or a mnist/ subfolder).
#                          Unset: ../shared/data when that folder exists, else the library's
#                          own look-up (user cache, then a verified download).
#                          A relative path is taken from the repository root.
#   AEVAE_FAST=1           shrink epochs and data for quick runs
#   AEVAE_CACHE=/path      where trained models are cached (relative: from the repository root)
#   TORCH_INDEX_URL=URL    an extra pip index for the PyTorch wheel, e.g. PyTorch's CPU-only
#                          index, which keeps Linux installs from pulling the CUDA build

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.aevae-installed
# The torch pin lives in constraints.txt; install it first so that nothing pulls another build.
TORCH := $(shell grep -E '^torch==' constraints.txt)
TORCH_INDEX_URL ?=
PIP_TORCH_FLAGS := $(if $(TORCH_INDEX_URL),--extra-index-url $(TORCH_INDEX_URL))

ifeq ($(origin AEVAE_DATA),undefined)
  ifneq ($(wildcard ../shared/data/.),)
    export AEVAE_DATA := $(abspath ../shared/data)
  endif
else ifneq ($(AEVAE_DATA),)
  # Notebooks run with notebooks/ as their working directory: pass an absolute path.
  export AEVAE_DATA := $(abspath $(AEVAE_DATA))
endif
ifneq ($(AEVAE_CACHE),)
  export AEVAE_CACHE := $(abspath $(AEVAE_CACHE))
endif

# Fast-mode builds go to their own folder, so that their outputs never reach the full book
# through the execution cache (which is keyed on notebook text only).
FAST := $(filter 1 true yes,$(shell echo '$(AEVAE_FAST)' | tr 'A-Z' 'a-z'))
BOOK_OUT := $(if $(FAST),_build/fast,.)

# Jupyter kernels show figures through the inline backend; MPLBACKEND=Agg (common in CI)
# would silently drop every figure from the book. Notebook runs therefore unset it (here
# and in tools/build_book.sh); matplotlib picks Agg by itself where there is no display.
NB_ENV := env -u MPLBACKEND

.PHONY: help install vendor book check-book slides check-slides handouts check-handouts pdf \
	problem-sets lecture-cells test test-unit lint lab clean distclean

help:
	@echo "make book       build the book into _build/html (executes the notebooks, cached;"
	@echo "                with AEVAE_FAST=1 into _build/fast/_build/html)"
	@echo "make check-book load every page of the built book in headless Chromium (errors, math,"
	@echo "                images, widgets, links); screenshots in _build/screenshots"
	@echo "make slides     one lecture deck per chapter into _build/slides (offline; reveal.js with"
	@echo "                speaker notes). NB=04: one chapter; CODE=1: with the code cells"
	@echo "make check-slides  every slide of every deck in headless Chromium (1280x720)"
	@echo "make handouts   student (no solutions) and instructor notebooks into _build/handouts"
	@echo "make check-handouts  make handouts, then run both sets through nbval"
	@echo "make pdf        print every chapter of the built book to _build/pdf (SOLUTIONS=1: with"
	@echo "                the solutions, into _build/pdf/solutions)"
	@echo "make problem-sets  regenerate book/problem_sets.md from the chapters' exercises"
	@echo "make lecture-cells  convert the chapters: exercises as cells, hidden solutions, checked"
	@echo "                exercises, the Colab cell (tools/lecture_cells.py --apply)"
	@echo "make test       run the unit tests and every notebook (pytest + nbval)"
	@echo "make test-unit  the unit tests only (tests/)"
	@echo "make lab        open JupyterLab in the project's environment"
	@echo "make lint       ruff check and format; notebooks stored without outputs; macros documented;"
	@echo "                chapters converted for teaching; book/problem_sets.md up to date"
	@echo "make install    create .venv and install everything (the others do it for you)"
	@echo "make clean      remove build outputs (_build, caches of pytest and ruff)"
	@echo "make distclean  also remove .venv, _vendor and the trained-model cache .cache/"
	@echo
	@echo "AEVAE_DATA=$(if $(AEVAE_DATA),$(AEVAE_DATA),(unset: the library looks up or downloads MNIST))"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
	  || { echo "Python 3.10 or newer is needed (set PYTHON=...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# pip 24 or newer: older ones reject a git+file:// requirement (tests/test_install.py) and some
# of the newer packaging metadata.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --upgrade "pip>=24"
	$(BIN)/python -m pip install -c constraints.txt $(PIP_TORCH_FLAGS) "$(TORCH)"
	$(BIN)/python -m pip install -c constraints.txt -e '.[test,book,lab]'
	@touch $@

install: $(STAMP)

vendor:
	tools/vendor_js.sh

# tools/build_book.sh runs jupyter-book build -W -n --keep-going, and rebuilds everything
# when aevae_lib changed or the last build failed (see the script).
book: $(STAMP) vendor
	tools/build_book.sh $(BOOK_OUT)

# Needs Chromium (Debian: apt-get install chromium; or set AEVAE_CHROMIUM=/path/to/chrome).
check-book: $(STAMP)
	$(BIN)/python tests/browser/check_book.py $(BOOK_OUT)/_build/html \
	  --screenshots $(BOOK_OUT)/_build/screenshots

# Figures come from the book's execution cache (make book), or the chapter is run first
# (tools/slides.py). NB=04 builds one chapter's deck, CODE=1 shows the code cells.
TRUE_VALUES := 1 true yes
SLIDES_NB := $(if $(NB),$(sort $(wildcard notebooks/$(NB)*.ipynb)))
slides: $(STAMP) vendor
	$(if $(NB),$(if $(SLIDES_NB),,$(error no chapter matches notebooks/$(NB)*.ipynb)))
	$(NB_ENV) $(BIN)/python tools/slides.py --out $(BOOK_OUT)/_build/slides \
	  --cache $(BOOK_OUT)/_build/.jupyter_cache \
	  $(if $(filter $(TRUE_VALUES),$(CODE)),--code) $(SLIDES_NB)

# Needs Chromium, like check-book.
check-slides: $(STAMP)
	$(BIN)/python tools/check_slides.py $(BOOK_OUT)/_build/slides

handouts: $(STAMP)
	$(BIN)/python tools/handouts.py --out $(BOOK_OUT)/_build/handouts

# Both sets must run: nbval executes every notebook (trained models come from the cache).
check-handouts: handouts
	$(NB_ENV) $(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
	  $(BOOK_OUT)/_build/handouts/student $(BOOK_OUT)/_build/handouts/instructor

# Needs the built book (make book) and Chromium; checks the PDFs' text as it goes.
pdf: $(STAMP)
	$(BIN)/python tools/pdf.py --site $(BOOK_OUT)/_build/html --out $(BOOK_OUT)/_build/pdf \
	  $(if $(filter $(TRUE_VALUES),$(SOLUTIONS)),--solutions) --verify

problem-sets: $(STAMP)
	$(BIN)/python tools/problem_sets.py

lecture-cells: $(STAMP)
	$(BIN)/python tools/lecture_cells.py --apply
	$(BIN)/nbstripout --keep-id notebooks/*.ipynb
	$(BIN)/python tools/problem_sets.py

test: $(STAMP)
	$(NB_ENV) $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env

# The unit tests alone (the Pages workflow runs these, then lets the book build execute the
# notebooks once instead of twice).
test-unit: $(STAMP)
	$(NB_ENV) $(BIN)/python -m pytest tests

# --keep-id: cell ids carry no output; keeping them keeps diffs small (same in pre-commit).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/nbstripout --verify --keep-id notebooks/*.ipynb
	$(BIN)/python tools/macros.py --check
	$(BIN)/python tools/lecture_cells.py --check
	$(BIN)/python tools/problem_sets.py --check

# Containers often run as root, which JupyterLab refuses without --allow-root.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(NB_ENV) $(BIN)/jupyter lab $(LAB_ARGS)

clean:
	rm -rf _build .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) _vendor .cache
