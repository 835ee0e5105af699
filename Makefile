# Two commands: `make run` starts the tray app, `make test` runs lint, types and tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run headless test lint typecheck unit bench bench-litellm soak mutate simulator sysdeps testdeps screenshots clean dist package

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[gui,dev]'
	touch $(STAMP)

# System packages (Linux): installed when root, otherwise the apt command is printed.
sysdeps:
	scripts/system-deps.sh qt

testdeps: sysdeps
	scripts/system-deps.sh browser
	scripts/system-deps.sh package
	scripts/system-deps.sh redis
	scripts/real-engine.sh >/dev/null

run: $(STAMP) sysdeps
	$(BIN)/python -m app $(ARGS)

headless: $(STAMP)
	$(BIN)/python -m proxy_core $(ARGS)

simulator: $(STAMP)
	$(BIN)/python -m tests.fakes.ollama_sim $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check proxy_core app tests scripts
	$(BIN)/ruff format --check proxy_core app tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) testdeps
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

test: lint typecheck unit

# The wheel and sdist users install (dist/); the version comes from proxy_core/version.py.
dist: $(STAMP)
	rm -rf dist/*.whl dist/*.tar.gz
	$(BIN)/python -m build --outdir dist .

# The frozen one-folder app for this OS (packaging/ollama-tray-proxy.spec) and, on Linux,
# a tarball of it; prints the sizes. packaging/README.md covers Windows and macOS.
package: $(STAMP) sysdeps
	scripts/system-deps.sh package
	rm -rf dist/ollama-tray-proxy build/pyinstaller
	$(BIN)/pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller \
		packaging/ollama-tray-proxy.spec
	tar -C dist -czf dist/ollama-tray-proxy-$$($(BIN)/python -c \
		'import proxy_core; print(proxy_core.__version__)')-$$(uname -s | tr A-Z a-z)-$$(uname -m).tar.gz \
		ollama-tray-proxy
	@du -sh dist/ollama-tray-proxy dist/ollama-tray-proxy-*.tar.gz

# Side-by-side figures for docs/PERFORMANCE.md: wrk against a fast Ollama stand-in and the
# simulator, the upstream clients, cache, metrics, tray. SECTIONS narrows it (run_all.py).
SECTIONS ?=
bench: $(STAMP) sysdeps
	scripts/system-deps.sh bench
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m tests.perf.run_all $(SECTIONS)

# LiteLLM's proxy on the same harness; installs LiteLLM into its own venv (not a dependency).
LITELLM_VENV := .bench/litellm
bench-litellm: $(STAMP) sysdeps
	scripts/system-deps.sh bench
	test -x $(LITELLM_VENV)/bin/litellm || ($(PY) -m venv $(LITELLM_VENV) && \
		$(LITELLM_VENV)/bin/pip install --quiet 'litellm[proxy]')
	LITELLM=$(LITELLM_VENV)/bin/litellm $(BIN)/python -m tests.perf.run_all litellm

# Mixed traffic for MINUTES at concurrency 32; reports errors and RSS over time.
MINUTES ?= 10
soak: $(STAMP)
	$(BIN)/python -m tests.perf.soak --minutes $(MINUTES)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m tests.perf.soak --minutes $(MINUTES) --tray

# Mutation testing of proxy_core (not in CI: hours for the whole package on 2 cores).
# MUTANTS narrows it to modules, e.g. make mutate MUTANTS='proxy_core.cache.keys*'.
# docs/TESTING.md records the kill ratio and the survivors judged equivalent.
MUTANTS ?=
mutate: $(STAMP)
	$(BIN)/mutmut run $(MUTANTS) || true
	$(BIN)/mutmut results --all true | grep -v "not checked" | awk -F': ' '{print $$2}' | sort | uniq -c

screenshots: $(STAMP) sysdeps
	scripts/system-deps.sh screens
	scripts/screenshots.sh

clean:
	rm -rf $(VENV) .bench build *.egg-info
