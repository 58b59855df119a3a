"""What a request costs: the bundled, dated price table (data/prices.toml) with the
configuration's ``[[price]]`` overrides on top.

Prices are per upstream model name, matched exactly: a dated snapshot and its alias can differ
in price, so guessing one from the other could under-count.  An unknown model has no price
(``cost`` returns None) and the gateway refuses it for keys with a budget: fail closed.

``estimate`` is what admission reserves before the upstream answers: input about one token per
4 bytes of the request body, output the request's max tokens or 1024 when it sets none.  The
budget guarantee (limits.py) assumes an answer costs no more than its estimate, so a budgeted
request's real output should be capped at the estimated output.
"""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any, Iterable, Mapping

from relayguard.errors import ConfigError

BYTES_PER_TOKEN = 4
DEFAULT_OUTPUT_TOKENS = 1024
BUNDLED = "data/prices.toml"


@dataclass(frozen=True)
class Price:
    input_per_mtok: float  # USD per million input tokens
    output_per_mtok: float


class PriceTable:
    def __init__(self, prices: Mapping[str, Price], as_of: str | None = None) -> None:
        self.prices = dict(prices)
        self.as_of = as_of  # the bundled table's date

    @classmethod
    def load(cls, overrides: Iterable[Any] = ()) -> PriceTable:
        """The bundled table, then each override (a config ``PriceOverride`` or a mapping with
        model, input_per_mtok, output_per_mtok) replacing or adding a model."""
        as_of, bundled = _bundled()
        prices = dict(bundled)
        for item in overrides:
            get = item.get if isinstance(item, Mapping) else (lambda k, _i=item: getattr(_i, k, None))
            model = get("model")
            price = _price(get("input_per_mtok"), get("output_per_mtok"))
            if not isinstance(model, str) or not model or price is None:
                raise ConfigError(f"price override {item!r}: needs a model name and non-negative "
                                  "input_per_mtok and output_per_mtok")
            prices[model] = price
        return cls(prices, as_of)

    def price(self, model: str) -> Price | None:
        return self.prices.get(model)

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        """USD for these tokens, or None when the model has no price."""
        price = self.prices.get(model)
        if price is None:
            return None
        return (max(0, input_tokens) * price.input_per_mtok + max(0, output_tokens) * price.output_per_mtok) / 1e6

    def estimate(self, model: str, body_bytes: int, max_tokens: int | None) -> tuple[int, float | None]:
        """(tokens, cost) to reserve for a request before it runs; cost None when unpriced."""
        input_tokens = max(0, -(-int(body_bytes) // BYTES_PER_TOKEN))
        output_tokens = max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) \
            and max_tokens > 0 else DEFAULT_OUTPUT_TOKENS
        return input_tokens + output_tokens, self.cost(model, input_tokens, output_tokens)


def _price(inp: Any, out: Any) -> Price | None:
    for v in (inp, out):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            return None
    return Price(float(inp), float(out))


@functools.cache
def _bundled() -> tuple[str, dict[str, Price]]:
    where = f"relayguard/gateway/{BUNDLED}"
    try:
        data = tomllib.loads(resources.files("relayguard.gateway").joinpath(BUNDLED).read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: the bundled price table cannot be read: {exc}") from None
    as_of = data.get("as_of")
    rows = data.get("price")
    if not isinstance(as_of, str) or not isinstance(rows, list):
        raise ConfigError(f"{where}: needs as_of = \"YYYY-MM-DD\" and [[price]] tables")
    prices: dict[str, Price] = {}
    for row in rows:
        model = row.get("model") if isinstance(row, dict) else None
        price = _price(row.get("input_per_mtok"), row.get("output_per_mtok")) if model else None
        if not isinstance(model, str) or price is None or model in prices or set(row) - {
                "model", "input_per_mtok", "output_per_mtok"}:
            raise ConfigError(f"{where}: bad or duplicate [[price]] entry {row!r}")
        prices[model] = price
    return as_of, prices
