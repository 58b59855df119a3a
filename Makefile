# The two commands a fresh clone needs: `make demo` and `make test`.
# They install a pinned uv if the machine has none, then sync the locked,
# hash-pinned environment (uv.lock) before running anything.

UV_VERSION := 0.13.8
UV := $(shell command -v uv >/dev/null 2>&1 && uv --version | grep -q ' $(UV_VERSION)' && echo uv || echo .tools/bin/uv)
UV_DEP := $(filter .tools/bin/uv,$(UV))

.PHONY: demo test sync bench bench-gateway clean

demo: sync
	$(UV) run --frozen --no-sync relayguard demo

test: sync
	$(UV) run --frozen --no-sync python -m pytest

bench: sync
	$(UV) run --frozen --no-sync python bench/overhead.py

# The gateway against the passthrough and LiteLLM's proxy (installs LiteLLM once into .bench-cache/).
bench-gateway: sync
	$(UV) run --frozen --no-sync python bench/gateway.py

sync: $(UV_DEP)
	$(UV) sync --frozen --quiet

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

clean:
	rm -rf .venv .tools
