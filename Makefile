# The two commands of the README, with their own setup:  make run   |   make test
# Setup installs mosquitto, xxd and hexdump (Debian packages) when missing and the rig, its firmware interpreter
# (MicroPython, from PyPI) and the test tools into .venv.

VENV   ?= .venv
PYTHON ?= python3
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_ARGS ?=
TEST_ARGS ?=
TEST_DIR := reports/tests

.PHONY: setup run test test-tools lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || \
		{ echo "installing mosquitto (Debian package)"; \
		  $(SUDO) apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq mosquitto mosquitto-clients >/dev/null; }
	@{ command -v xxd && command -v hexdump; } >/dev/null 2>&1 || \
		{ echo "installing xxd and hexdump (Debian packages; the capture importer is tested on their output)"; \
		  $(SUDO) apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq xxd bsdextrautils >/dev/null; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || \
		{ echo "installing python3-venv (Debian package)"; \
		  $(SUDO) apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $@

run: setup
	$(VENV)/bin/rig run $(RUN_ARGS)

# Tools only the tests need: Debian's chromium (the report's screenshot test) and postgresql (the results store).
test-tools:
	@command -v chromium >/dev/null 2>&1 || \
		{ echo "installing chromium (Debian package; the HTML report is checked in a headless browser)"; \
		  $(SUDO) apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ echo "installing postgresql (Debian package; the results store is tested against a real server)"; \
		  $(SUDO) apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

test: setup test-tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	rm -rf $(TEST_DIR)
	$(VENV)/bin/pytest --rig-run-dir $(TEST_DIR) --html=$(TEST_DIR)/report.html --self-contained-html \
		--junitxml=$(TEST_DIR)/junit.xml $(TEST_ARGS)
	@echo "the LED scenarios, on the bench with a simulated photodiode and camera:"
	$(VENV)/bin/pytest --bench rig/benches/sim-led.toml --rig-run-dir $(TEST_DIR)/led \
		--html=$(TEST_DIR)/led/report.html --self-contained-html --junitxml=$(TEST_DIR)/led/junit.xml \
		rig/scenarios/test_led.py
	@echo "no meter key in anything the session wrote (reports, logs, captures, records):"
	$(VENV)/bin/python tests/scan_secrets.py $(TEST_DIR)

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) reports/*/ .pytest_cache *.egg-info
