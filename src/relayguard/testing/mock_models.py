"""The mock provider's model personas: several models a test can tell apart.

A router that substitutes a cheaper model for the one requested is caught by
asking questions whose answers depend on the model.  The mock answers them
deterministically from the name of the model it *served* (the ``model`` of the
request it received, which a substituting router changed):

- known-answer probe: a user line ``MOCK_PROBE: <token>`` is answered with the
  line ``probe <token>: <hex>``, where ``<hex>`` is the first 16 hex digits of
  ``sha256(f"{served_model}:{token}")`` (one answer line per probe line, after
  any ``MOCK_TEXT``; tokens are cut at 256 characters);
- identity: a question containing "what model are you", "which model" or
  "what model is this" is answered ``I am <served_model>.``;
- generic text: the persona's own style, from its own phrase bank.
  ``mock-large`` answers in six or seven long sentences (68 to 95 words),
  ``mock-small`` in two short ones (4 to 7 words), ``mock-fast`` in three or
  four clipped fragments (8 to 17 words): answer length alone separates them,
  and no two share a phrase.  The phrases are picked by
  ``sha256(f"{persona}:{prompt}")``: the same prompt to the same model always
  gets the same words.

Any other model name (``gpt-4o``, ``claude-sonnet-4-5``, a name a test makes
up) behaves like ``mock-large``, except that the probe and identity answers
name the model actually served.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PROBE_PREFIX = "MOCK_PROBE:"
MAX_PROBE_TOKEN = 256  # a probe token is a short nonce, not a document
WHOAMI_QUESTIONS = ("what model are you", "which model", "what model is this")


@dataclass(frozen=True)
class Persona:
    name: str
    openers: tuple[str, ...]
    sentences: tuple[str, ...]
    closers: tuple[str, ...]
    body_sentences: tuple[int, int]  # how many body sentences (min, max)


PERSONAS = {p.name: p for p in (
    Persona(
        "mock-large",
        openers=("Here is a careful, thorough answer to your question.",
                 "Let me walk through this step by step, considering the details.",
                 "That is a thoughtful question, and it deserves a complete explanation."),
        sentences=(
            "First, it helps to understand the surrounding context, because the right approach depends on it.",
            "In most repositories the conventional layout already suggests where such a change belongs.",
            "Consider the trade-offs between readability, maintainability and performance before deciding.",
            "It is generally wise to write a small test that captures the expected behaviour beforehand.",
            "Documentation and clear naming will make the intent obvious to future maintainers.",
            "If dependencies are involved, pinning their versions keeps the build reproducible.",
            "Edge cases such as empty inputs, very large inputs and concurrent access deserve attention.",
            "Finally, reviewing the change with a colleague often reveals assumptions worth revisiting.",
        ),
        closers=("Would you like me to elaborate on any of these points in more depth?",
                 "I am happy to expand on any part of this explanation if that would help."),
        body_sentences=(4, 5),
    ),
    Persona(
        "mock-small",
        openers=("Sure.", "Okay.", "Got it."),
        sentences=("Try the simplest fix first.", "Check the docs.", "Run the tests.", "Keep it small."),
        closers=(),
        body_sentences=(1, 1),
    ),
    Persona(
        "mock-fast",
        openers=("Quick take:", "Fast answer:", "Short version:"),
        sentences=("grep the codebase, patch, rerun.", "ship a minimal diff now, refine later.",
                   "cache it, skip the extra round trip.", "profile first, then trim the hot loop.",
                   "batch the calls, drop the retries."),
        closers=("Done.", "Next?"),
        body_sentences=(1, 2),
    ),
)}
DEFAULT_PERSONA = PERSONAS["mock-large"]
PERSONA_MODELS = tuple(PERSONAS)


def persona_for(model: str) -> Persona:
    return PERSONAS.get(model, DEFAULT_PERSONA)


def probe_answer(served_model: str, token: str) -> str:
    digest = hashlib.sha256(f"{served_model}:{token}".encode()).hexdigest()[:16]
    return f"probe {token}: {digest}"


def probe_answers(served_model: str, user_text: str) -> list[str]:
    """One answer per ``MOCK_PROBE:`` line of the user's message, in order."""
    answers = []
    for line in user_text.splitlines():
        line = line.strip()
        if line.startswith(PROBE_PREFIX):
            token = line[len(PROBE_PREFIX):].strip()[:MAX_PROBE_TOKEN]
            if token:
                answers.append(probe_answer(served_model, token))
    return answers


def asks_identity(user_text: str) -> bool:
    lowered = user_text.lower()
    return any(q in lowered for q in WHOAMI_QUESTIONS)


def identity_answer(served_model: str) -> str:
    return f"I am {served_model}."


def generic_answer(served_model: str, prompt: str) -> str:
    """The persona's deterministic answer to a prompt nothing else matched."""
    persona = persona_for(served_model)
    seed = hashlib.sha256(f"{persona.name}:{prompt}".encode()).digest()
    low, high = persona.body_sentences
    count = low + seed[0] % (high - low + 1)
    # Distinct sentences, in the order the seed picks them.
    order = sorted(range(len(persona.sentences)), key=lambda i: (seed[1 + i % 31] + 7 * i) % 256)
    parts = [persona.openers[seed[-1] % len(persona.openers)]]
    parts += [persona.sentences[i] for i in order[:count]]
    if persona.closers:
        parts.append(persona.closers[seed[-2] % len(persona.closers)])
    return " ".join(parts)
