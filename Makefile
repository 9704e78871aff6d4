# seqmask: `make run` runs the main job, `make test` the test suite; both set up what is missing.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
SEQMASK := $(VENV)/bin/seqmask
PRESET ?= small
SYSTEM_PACKAGES := espeak-ng libsndfile1 postgresql

.PHONY: setup system run test lint bench clean-venv

setup: system $(STAMP)

system:
	@missing=""; \
	command -v espeak-ng >/dev/null 2>&1 || missing="$$missing espeak-ng"; \
	ldconfig -p 2>/dev/null | grep -q libsndfile.so || missing="$$missing libsndfile1"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	  else \
	    echo "seqmask needs system packages:$$missing. Run:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y $(SYSTEM_PACKAGES)"; \
	    exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "seqmask needs Python 3.11 (PYTHON=$(PYTHON) is " + sys.version.split()[0] + ")")'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

run: setup
	$(SEQMASK) run speech --preset $(PRESET)
	$(SEQMASK) run text --preset $(PRESET)
	$(SEQMASK) run motion --preset $(PRESET)

test: setup lint
	$(VENV)/bin/python -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: setup
	$(VENV)/bin/python bench/prep_throughput.py
	$(VENV)/bin/python bench/cached_rerun.py
	$(VENV)/bin/python bench/masking_step.py
	$(VENV)/bin/python bench/lem_masking.py
	$(VENV)/bin/python bench/mining.py
	$(VENV)/bin/python bench/tag_scaling.py
	$(VENV)/bin/python bench/motion_speed.py
	$(VENV)/bin/python bench/dask_cluster.py
	$(VENV)/bin/python bench/ops_load.py

clean-venv:
	rm -rf $(VENV)
