# Kybernetes: `make run` starts a single-node cluster, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Debian packages the project uses (see docs/adr/0001-debian-system-parts.md).
DEB_PACKAGES := python3 python3-venv python3-dev gcc runc crun containernetworking-plugins nftables iptables \
	busybox-static git nginx docker-registry skopeo iproute2 ca-certificates wrk
ARGS ?=

.PHONY: setup run test bench clean-data bytecode

setup: $(VENV)/.installed

.deb-installed:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "make setup: run as root to install: $$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@touch $@

$(VENV)/.installed: pyproject.toml .deb-installed
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip >/dev/null
	@$(PY) -m pip install -q -e '.[test]'
	@touch $@

# Compiled bytecode keeps `kyb server` start-up fast even where PYTHONDONTWRITEBYTECODE is set.
bytecode:
	@PYTHONDONTWRITEBYTECODE= $(PY) -m compileall -q kybernetes

run: setup bytecode
	@$(VENV)/bin/kyb server $(ARGS)

test: setup bytecode
	@$(PY) -m pytest -q $(ARGS)

bench: setup bytecode
	@$(PY) -m bench $(ARGS)

clean-data:
	rm -rf /var/lib/kybernetes
