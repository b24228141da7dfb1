# Two commands matter: `make run` and `make test`. Both build the environment themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.DEFAULT_GOAL := test
.PHONY: run test lint format bench sample clean

# uv installs the pinned requirements several times faster than pip (about 25 s instead of 95 s
# for the app's): it is put into the environment when the package index has it, and pip is
# the fallback whenever uv is missing or fails.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv || echo "uv is not available: installing with pip"

# $(call install,FILE): the requirements FILE, by uv when it is there, else by pip
install = { [ -x $(BIN)/uv ] && $(BIN)/uv pip install --quiet --python $(BIN)/python -r $(1); } \
	|| { $(BIN)/python -m pip install --quiet --upgrade pip && $(BIN)/pip install --quiet -r $(1); }

# Stamps record which requirements file was installed, so a change to it reinstalls.
$(VENV)/.app-installed: requirements.txt | $(BIN)/python
	$(call install,requirements.txt)
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(call install,requirements-dev.txt)
	touch $@ $(VENV)/.app-installed

$(VENV)/.bench-installed: requirements.txt requirements-dev.txt requirements-bench.txt | $(BIN)/python
	$(call install,requirements-bench.txt)
	touch $@ $(VENV)/.dev-installed $(VENV)/.app-installed

# server.py wraps dashboard.py with the route that sets the sign-in cookie (a reload stays signed in)
run: $(VENV)/.app-installed
	$(BIN)/streamlit run server.py --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench

sample: $(VENV)/.app-installed
	$(BIN)/python -m analytics make-sample data/sample

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache screenshots
