"""Prompts that tell models apart, for the model-substitution check.

* Known-answer probes: ``MOCK_PROBE: <token>`` (the mock provider answers with a
  digest of its served model and the token, so a swapped model cannot give the
  right answer) and "what model are you" (a model names itself).
* Generic prompts: ordinary questions whose answers differ in length and
  wording between models; compared with the reference statistically.

Each probe goes to the router once and to the reference twice: two reference
answers that agree show the reference is deterministic for that prompt, so a
router answer that differs is a different model, not sampling noise.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import Counter

import re2

WHOAMI = ("Quick check before we start: what model are you? Answer with your exact model name only.")
GENERIC = (
    "In two sentences, explain what a lock file is for in a software project.",
    "Give one reason to prefer small pull requests, in a single sentence.",
    "What is the difference between a process and a thread? Keep it short.",
    "Summarise what idempotent means for an HTTP endpoint.",
    "Name two common causes of flaky tests and one fix for each.",
    "In a sentence, why should secrets not be committed to a repository?",
    "Explain semantic versioning in three short sentences.",
    "What does a code review look for first? Answer briefly.",
)
N_KNOWN = 4  # MOCK_PROBE probes per run
# Model ids a whoami answer may name; longest first so "gpt-4o-mini" wins over "gpt-4o".
KNOWN_MODELS = tuple(sorted((
    "mock-large", "mock-small", "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-mini", "o3",
    "o4-mini", "claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "claude-3-5-haiku", "gemini-2.5-pro",
    "gemini-2.5-flash", "llama-3.1-8b", "llama-3.3-70b", "qwen3-coder", "deepseek-v3", "deepseek-chat",
    "mistral-large", "glm-4.6", "kimi-k2"), key=len, reverse=True))
_WORD_RE = re2.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")  # runs on the router's answers: linear time
_MAX_SCAN = 16 * 1024


def known_probe_token(secret: str, i: int) -> str:
    return hmac.new(bytes.fromhex(secret), f"probe:{i}".encode(), hashlib.sha256).hexdigest()[:12]


def known_probe(token: str) -> str:
    return f"MOCK_PROBE: {token}"


def models_named(text: str) -> list[str]:
    """Known model ids the text names (bounded scan; linear string search)."""
    low, found = text[:_MAX_SCAN].lower(), []
    for model in KNOWN_MODELS:
        start = 0
        while (i := low.find(model, start)) >= 0:
            end = i + len(model)
            # a whole id, not part of a longer one ("gpt-4o" in "gpt-4o-mini"); a date suffix may follow
            after = low[end:end + 2]
            if (i == 0 or not (low[i - 1].isalnum() or low[i - 1] in "-.")) and \
                    not (after[:1].isalnum() or (after[:1] == "-" and not after[1:2].isdigit())):
                found.append(model)
                break
            start = i + 1
    return found


def words(text: str) -> Counter[str]:
    return Counter(_WORD_RE.findall(text[:_MAX_SCAN].lower()))


def similarity(a: str, b: str) -> float:
    """Cosine similarity of word counts (1.0 for equal texts, 0.0 for disjoint)."""
    if a == b:
        return 1.0
    wa, wb = words(a), words(b)
    dot = sum(n * wb[w] for w, n in wa.items())
    norm = math.sqrt(sum(n * n for n in wa.values())) * math.sqrt(sum(n * n for n in wb.values()))
    return dot / norm if norm else 0.0


def sign_test_p(worse: int, total: int) -> float:
    """P(at least ``worse`` of ``total`` fair coin flips come up heads): the chance that
    the router's answers look this much less like the reference by luck alone."""
    return sum(math.comb(total, k) for k in range(worse, total + 1)) / 2 ** total if total else 1.0
