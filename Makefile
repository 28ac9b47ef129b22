# Attune: two commands do everything (see README): `make demo` and `make test`.
# A distribution's CPython 3.11 when there is one: built with profile-guided optimisation, it
# runs the simulator ~20 % faster than a plain source build such as pyenv's default (measured:
# docs/benchmarks.md). Any Python 3.11+ works: `make PY=python3.12 test`.
PY ?= $(firstword $(wildcard /usr/bin/python3.11) python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: demo test bench soak lint typecheck setup chromium clean

setup: $(STAMP) $(NODE_STAMP) chromium

# The Studio page tests drive Debian's Chromium (Playwright's own browser download is not
# used). Installed only when missing; CI runs as root, elsewhere sudo asks once.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Chromium for the Studio page tests ..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	fi

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	@echo "Installing Python packages (log: $(VENV)/install.log) ..."
	@$(BIN)/pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@$(BIN)/pip install -q -e '.[dev]' >> $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@touch $(STAMP)

# The MicroPython VM for the tests comes from npm; without Node the VM tests skip (never on CI).
$(NODE_STAMP): package.json
	@if command -v npm >/dev/null 2>&1; then npm install --silent --no-audit --no-fund && touch $(NODE_STAMP); \
	else echo "npm not found: MicroPython VM tests will be skipped"; fi

# Attune Studio in the browser with a simulated combo instrument to play from the page (Ctrl-C
# stops it). `attune sim --demo` still writes the demo's files (out/demo.mid, .wav, .png, .jsonl).
demo: setup
	$(BIN)/attune studio --sim combo

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -m "not slow"

bench: setup
	$(BIN)/python -m benchmarks

soak: setup
	$(BIN)/pytest -m slow -s

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two environments: the host side (host_tools/, simulator/, benchmarks/) against CPython, and the
# firmware against MicroPython's typeshed, which micropython-stdlib-stubs installs at the top of
# site-packages (a path that names the Python version, so it is given here, not in the config).
typecheck: setup
	$(BIN)/pyright -p pyrightconfig.json
	$(BIN)/pyright -p pyrightconfig.firmware.json --typeshedpath \
		"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

clean:
	rm -rf $(VENV) node_modules out build dist *.egg-info
