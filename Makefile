# Two commands do everything on a fresh machine: `make demo` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
# `make demo` installs the package and what the demo draws with; `make setup` (for test,
# lint and the other tools) adds the extras the suite exercises and the dev tools
DEMO_STAMP := $(VENV)/.demo-stamp
STAMP   := $(VENV)/.dev-stamp
PYTHON3 ?= python3

.PHONY: setup dot demo test test-versions lint bench fuzz mutate clean
.PHONY: chromium notebook playground docs

$(DEMO_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[demo]'
	touch $@

# The dev tools are a dependency group, not an extra: `pip install --group` needs pip >= 25.1
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install -q 'pip>=25.1'
	$(PY) -m pip install -q -e '.[demo,cifar10,cluster,playground]' --group dev
	touch $@

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

demo: $(DEMO_STAMP) dot
	$(VENV)/bin/tinygrad-lc demo

# ruff, import-linter (the layers of docs/architecture.md, contracts in pyproject.toml), then
# basedpyright: the package's types in pyright's standard mode ([tool.pyright] in pyproject.toml)
# (basedpyright comes from PyPI with Node.js in its wheel: nothing else to install)
lint: setup
	$(VENV)/bin/ruff check tinygrad_lc tests examples benchmarks docs/hooks
	$(VENV)/bin/lint-imports
	$(VENV)/bin/basedpyright --pythonpath $(PY)

# The types alone (the last step of `make lint`)
.PHONY: typecheck
typecheck: setup
	$(VENV)/bin/basedpyright --pythonpath $(PY)

# The second run repeats the docs, examples and notebook under another OpenBLAS kernel
# (another summation order): a printed number that only holds on this CPU fails there.
test: setup chromium lint test-versions
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q -p no:cacheprovider
	env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=Haswell $(PY) -m pytest -q -p no:cacheprovider tests/test_docs.py tests/test_examples.py tests/test_notebook.py

# The engine's tests under the oldest supported Python and NumPy and under the newest, each in
# a small virtualenv of its own (the package, NumPy, graphviz and the test-core group).
# An interpreter is the first of these that runs: pythonX.Y on PATH, pyenv's, uv's; else python3.
OLDEST_NUMPY  := $(shell sed -n 's/^dependencies = \["numpy>=\([0-9.]*\)".*/\1/p' pyproject.toml)
find_python = $(firstword $(foreach p,python$(1) $(wildcard $(HOME)/.pyenv/versions/$(1).*/bin/python$(1)) \
                $(shell uv python find $(1) 2>/dev/null),$(shell $(p) -c "import sys; print(sys.executable)" 2>/dev/null)) $(PYTHON3))
OLDEST_PYTHON ?= $(call find_python,3.10)
NEWEST_PYTHON ?= $(call find_python,3.13)
# What a Python or NumPy version can change: the ops and their dtypes, the tensor, the numerics,
# the losses, CIFAR-10's restricted unpickler and the shipped digits (the fuzz, memory, thread
# and optimizer tests run in the main suite only)
CORE_TESTS := tests/core/test_ops.py tests/core/test_tensor.py tests/core/test_numerics.py \
              tests/core/test_anomaly.py tests/core/test_mutation_guard.py tests/test_losses.py \
              tests/data/test_cifar10.py tests/data/test_digits.py

.venv-oldest/.stamp: pyproject.toml
	rm -rf .venv-oldest && $(OLDEST_PYTHON) -m venv .venv-oldest
	.venv-oldest/bin/python -m pip install -q 'pip>=25.1'
	.venv-oldest/bin/python -m pip install -q -e '.[cifar10]' 'numpy==$(OLDEST_NUMPY)' --group test-core
	touch $@

.venv-newest/.stamp: pyproject.toml
	rm -rf .venv-newest && $(NEWEST_PYTHON) -m venv .venv-newest
	.venv-newest/bin/python -m pip install -q 'pip>=25.1'
	.venv-newest/bin/python -m pip install -q -U -e '.[cifar10]' numpy --group test-core
	touch $@

test-versions: .venv-oldest/.stamp .venv-newest/.stamp
	for v in .venv-oldest .venv-newest; do \
	  $$v/bin/python -c "import sys, numpy; print('$$v: Python', sys.version.split()[0], 'NumPy', numpy.__version__)" && \
	  HYPOTHESIS_PROFILE=dev $$v/bin/python -m pytest -q -p no:cacheprovider $(CORE_TESTS) || exit 1; \
	done

# The lecture notebook in Jupyter (installs the notebook server into .venv the first time).
notebook: $(DEMO_STAMP)
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

# The docs site (mkdocs.yml): the README as home page, the guide (docs/*.md) and the API
# reference from the docstrings (docs/api/), built into site/; open site/index.html. --strict
# fails on a broken link, anchor or reference. The docs group (in dev) has the tools.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

# Mutation testing, not part of `make test` (docs/testing.md has the score and the survivors).
# mutmut copies the package into mutants/, runs the test files listed under [tool.mutmut] in
# pyproject.toml once to learn which tests call which function, then runs each mutant against
# only the tests that call its function (fast Hypothesis profile, stopping at the first
# failure). Results are kept in mutants/: a rerun tries only new mutants. It ends by printing
# the survivors (`mutmut show NAME` shows one). MUTANTS="tinygrad_lc.losses*" picks some
# (named mutants are tried again); MUTATE_SET=round1 or round2 picks a set of modules (the
# round-2 globs, most important first: one `make mutate MUTANTS=...` per module resumes best).
# It runs at the lowest priority (nice 19): the machine is shared.
MUTATE_round1 := tinygrad_lc.core.tensor.* tinygrad_lc.core.ops.* tinygrad_lc.losses.* \
                 tinygrad_lc.regularizers.* tinygrad_lc.optim.* tinygrad_lc.util.checkpoint.*
MUTATE_round2 := tinygrad_lc.autodiff.* tinygrad_lc.optim.* tinygrad_lc.nn.* \
                 tinygrad_lc.util.checkpoint.* tinygrad_lc.util.atomic.* \
                 tinygrad_lc.util.interrupts.* tinygrad_lc.compile.* tinygrad_lc.core.recording.* \
                 tinygrad_lc.models.mlp.* tinygrad_lc.sweep.*
MUTATE_SET ?=
MUTANTS ?= $(MUTATE_$(MUTATE_SET))
MUTATE_CHILDREN ?= 2
mutate: setup
	@test -x $(VENV)/bin/mutmut || $(PY) -m pip install -q --group mutate
	HYPOTHESIS_PROFILE=dev nice -n 19 $(VENV)/bin/mutmut run --max-children $(MUTATE_CHILDREN) $(foreach m,$(MUTANTS),"$(m)")
	$(VENV)/bin/mutmut results | grep -v ': not checked$$' || true  # survivors (and timeouts)

clean:
	rm -rf $(VENV) .venv-oldest .venv-newest out .pytest_cache mutants site
