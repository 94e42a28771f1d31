# Two commands do everything on a fresh machine: `make demo` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
PYTHON3 ?= python3

.PHONY: setup dot demo test lint bench fuzz mutate clean

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

setup: $(STAMP) dot

demo: setup
	$(VENV)/bin/tinygrad-lc demo

lint: setup
	$(VENV)/bin/ruff check tinygrad_lc tests examples benchmarks

test: setup lint
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q -p no:cacheprovider

bench: setup
	$(PY) -m benchmarks

fuzz: setup
	HYPOTHESIS_PROFILE=ci $(PY) -m tests.fuzz_graphs --examples 10000

# Mutation testing, not part of `make test`: mutmut changes one module in place one mutant at a
# time and runs that module's own test files (fast Hypothesis profile, stopping at the first
# failure). Results accumulate in .mutmut-cache, so a rerun only retries the survivors; then it
# prints the survivors (`mutmut show ID` shows one). Pick modules with MUTATE_MODULES="ops losses".
MUTATE_MODULES ?= tensor ops losses regularizers optim checkpoint
MUTATE_TESTS_tensor       := tensor ops mutation_guard memory anomaly numerics bad_inputs
MUTATE_TESTS_ops          := ops tensor numerics gradcheck fuzz
MUTATE_TESTS_losses       := losses numerics bad_inputs
MUTATE_TESTS_regularizers := regularizers bad_inputs
MUTATE_TESTS_optim        := optim bad_inputs
MUTATE_TESTS_checkpoint   := checkpoint training
define mutate_module
	HYPOTHESIS_PROFILE=dev $(VENV)/bin/mutmut run --paths-to-mutate tinygrad_lc/$(1).py \
	  --runner '$(PY) -m pytest -x -q -p no:cacheprovider $(patsubst %,tests/test_%.py,$(MUTATE_TESTS_$(1)) mutants)' \
	  --simple-output --no-progress; test $$(( $$? & 1 )) -eq 0  # exit bit 1: mutmut itself failed

endef

mutate: setup
	$(foreach m,$(MUTATE_MODULES),$(call mutate_module,$(m)))
	$(VENV)/bin/mutmut results

clean:
	rm -rf $(VENV) out .pytest_cache .mutmut-cache
