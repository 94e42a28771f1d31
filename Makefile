# Two commands do everything on a fresh machine: `make demo` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
PYTHON3 ?= python3

.PHONY: setup dot demo test lint bench fuzz mutate clean
.PHONY: chromium notebook playground

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Graphviz's `dot` renders the diagrams; install it when missing.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    echo "Installing Graphviz (dot) with apt-get..."; \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "Graphviz's 'dot' program is missing: install it (brew install graphviz, conda install graphviz, or https://graphviz.org/download/)"; exit 1; \
	  fi; }

# Chromium runs the report's browser test (Playwright drives Debian's package; no browser
# download); install it when missing. `make demo` does not need it.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    echo "Installing Chromium with apt-get (for the report's browser test)..."; \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is missing: install it (apt-get install chromium, brew install --cask chromium) for the browser test"; exit 1; \
	  fi; }

setup: $(STAMP) dot

demo: setup
	$(VENV)/bin/tinygrad-lc demo

# ruff, then import-linter: the layers of docs/architecture.md (contracts in pyproject.toml)
lint: setup
	$(VENV)/bin/ruff check tinygrad_lc tests examples benchmarks
	$(VENV)/bin/lint-imports

# The second run repeats the docs, examples and notebook under another OpenBLAS kernel
# (another summation order): a printed number that only holds on this CPU fails there.
test: setup chromium lint
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q -p no:cacheprovider
	env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=Haswell $(PY) -m pytest -q -p no:cacheprovider tests/test_docs.py tests/test_examples.py tests/test_notebook.py

# The lecture notebook in Jupyter (installs the notebook server into .venv the first time).
notebook: setup
	@$(PY) -c "import notebook" 2>/dev/null || $(PY) -m pip install -q notebook
	$(VENV)/bin/jupyter notebook examples/lecture.ipynb

# The lecture's interactive demo in the browser: serves http://127.0.0.1:8231/ (this machine
# only) and opens it; Ctrl-C stops it. `make setup` installs its extra (dev holds playground).
playground: setup
	$(VENV)/bin/tinygrad-lc playground

bench: setup
	$(PY) -m benchmarks

fuzz: setup
	HYPOTHESIS_PROFILE=ci $(PY) -m tests.fuzz_graphs --examples 10000

# Mutation testing, not part of `make test` (docs/testing.md has the score and the survivors).
# mutmut copies the package into mutants/, runs the test files listed under [tool.mutmut] in
# pyproject.toml once to learn which tests call which function, then runs each mutant against
# only the tests that call its function (fast Hypothesis profile, stopping at the first
# failure). Results are kept in mutants/: a rerun tries only new mutants. It ends by printing
# the survivors (`mutmut show NAME` shows one). MUTANTS="tinygrad_lc.losses*" picks some
# (named mutants are tried again).
MUTANTS ?=
mutate: setup
	@test -x $(VENV)/bin/mutmut || $(PY) -m pip install -q -e '.[dev,mutate]'
	HYPOTHESIS_PROFILE=dev $(VENV)/bin/mutmut run --max-children 2 $(MUTANTS)
	$(VENV)/bin/mutmut results | grep -v ': not checked$$' || true  # survivors (and timeouts)

clean:
	rm -rf $(VENV) out .pytest_cache mutants
