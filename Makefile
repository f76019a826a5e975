# The two commands of the README. Each creates .venv if missing and installs the project into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch==2.13.0 is the CPU wheel this machine keeps on disk; installing it first keeps pip from
# resolving `torch>=2.2` to a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
# The suite runs in two pytest-xdist workers (a module stays on one worker, so its module-scoped fixtures are made
# once), in the order tests/conftest.py gives (the modules with server tests first, so no long one starts last; xdist
# would otherwise order them by test count); each worker computes with one thread and starts one Prefect server of its own.
PYTEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=10

.PHONY: demo test test-fast lint clean browser compose

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,seg,export]' "$(TORCH_SPEC)"
	touch $(STAMP)

# The review page's browser test drives Debian's chromium (Playwright, no browser download). Installed when
# missing and apt is usable as root; otherwise that one test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1; } || \
	  echo "chromium not installed: the review page's browser test will skip"

# The compose file is validated by `docker compose config` (or Debian's docker-compose, installed like chromium
# above when neither is there); without either that one test skips and says why.
compose:
	@docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose) >/dev/null 2>&1; } || \
	  echo "no docker compose: the compose file's validation test will skip"

demo: $(STAMP)
	$(BIN)/eltrepro demo

test: $(STAMP) browser compose
	$(PYTEST)

# The inner loop: every test not marked server or slow: no process worker, deployment, kill, GPU-pool, S3 or
# loopback-mirror scenario (the in-process flow tests still report to a Prefect server of their own).
test-fast: $(STAMP)
	$(PYTEST) -m "not server and not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) artifacts/*/
