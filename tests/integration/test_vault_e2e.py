"""AC-2 end to end: an agent session full of (FAKE) credentials goes through the
guard and a harvesting router; the router harvests nothing, and the agent's
tool calls carry the real values where the model used placeholders."""

from __future__ import annotations

import orjson
import pytest

from relayguard.testing import procs
from relayguard.testing.client import PATHS, agent_request, command_of, headers_for, parse_reply, post_json

DIALECTS = ("openai-chat", "openai-responses", "anthropic-messages")


def fake_credentials() -> dict[str, str]:
    """FAKE credentials of a dozen kinds, built from pieces so that no string in
    the repository looks like a live key."""
    b = "Zq7Lm2Xw9Rt4Vb8NcJ5hKp3sYd6Ge1Fu"
    return {
        "github": "ghp_" + b + "R7dQ",
        "openai": "sk-proj-" + b + "T3BlbkFJ" + b[:20],
        "anthropic": "sk-ant-api03-" + (b * 3)[:93] + "AA",
        "aws_id": "AKIA" + "Q7XR2MV4KZ3T6WPN",
        "slack": "xoxb-" + "4829173650" + "-" + "7302948561837" + "-" + b[:24],
        "stripe": "sk_" + "live_" + b[:24],
        "google": "AIza" + "SyD" + b[:20] + "x9Kq2Lw7Mn4P",
        "huggingface": "hf_" + b + "Qw",
        "npm": "npm_" + b + "Ab3d",
        "gitlab": "glpat-" + b[:20],
        "db_password": "Xk29" + b[:10],
        "jwt": "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0." + b + b[:11],
    }


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """client -> guard (vault on) -> redteam --attack ac2 -> mock provider."""
    root = tmp_path_factory.mktemp("vault")
    harvest = root / "harvest.jsonl"
    with procs.start("mock-provider") as mock, \
            procs.start("redteam", "--upstream", mock.url, "--attack", "ac2", "--harvest-log", str(harvest)) as router, \
            procs.start("guard", "--upstream", router.url, "--vault-dir", str(root / "vault")) as guard:
        yield guard, harvest, root


def session_text(creds: dict[str, str]) -> str:
    """A user turn that pastes credentials and asks for a command using some."""
    lines = [f"here is my {name}: {value}" for name, value in creds.items() if name != "db_password"]
    lines.append(f"the database is postgres://app:{creds['db_password']}@db.internal:5432/app")
    command = (f"GITHUB_TOKEN={creds['github']} OPENAI_API_KEY={creds['openai']} "
               f"psql postgres://app:{creds['db_password']}@db.internal:5432/app -c 'select 1'")
    lines.append("MOCK_TOOL_CALL: " + orjson.dumps({"name": "bash", "arguments": {"command": command}}).decode())
    return "\n".join(lines), command


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_router_harvests_nothing_and_agent_gets_real_values(chain, dialect, stream):
    guard, harvest, root = chain
    creds = fake_credentials()
    text, command = session_text(creds)
    body = agent_request(dialect, text, stream=stream)
    # A tool result carrying a credential too, as when an agent `cat`s a .env file.
    if dialect == "openai-chat":
        body["messages"].append({"role": "assistant", "content": "reading .env"})
        body["messages"].append({"role": "user", "content": text})
    reply = post_json(guard.url, PATHS[dialect], body, headers_for(dialect))
    assert reply.status == 200, reply.body[:300]
    calls = parse_reply(dialect, reply).tool_calls
    assert [command_of(c.arguments) for c in calls] == [command]

    harvested = harvest.read_text() if harvest.exists() else ""
    for name, value in creds.items():
        assert value not in harvested, f"the router harvested the {name}"
    assert value not in (root / "vault" / "vault.db").read_bytes().decode("latin-1"), "vault stores plaintext"


def test_router_saw_placeholders_not_secrets(chain, tmp_path):
    """Without the guard the same router harvests the credentials: the test can fail."""
    guard, harvest, root = chain
    creds = fake_credentials()
    text, _ = session_text(creds)
    with procs.start("mock-provider") as mock, \
            procs.start("redteam", "--upstream", mock.url, "--attack", "ac2",
                        "--harvest-log", str(tmp_path / "bare.jsonl")) as bare:
        post_json(bare.url, PATHS["openai-chat"], agent_request("openai-chat", text), headers_for("openai-chat"))
    bare_log = (tmp_path / "bare.jsonl").read_text()
    assert creds["github"] in bare_log and creds["openai"] in bare_log


def test_vault_key_file_is_private(chain):
    _, _, root = chain
    assert (root / "vault" / "vault.key").stat().st_mode & 0o077 == 0


def test_loose_key_file_is_refused(tmp_path):
    (tmp_path / "vault.key").write_bytes(b"k" * 32)
    (tmp_path / "vault.key").chmod(0o644)
    with pytest.raises(RuntimeError, match="exited"):
        procs.start("guard", "--upstream", "http://127.0.0.1:9", "--vault-dir", str(tmp_path))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_credential_byte_reaches_the_upstream(scripted_upstream, tmp_path, dialect):
    """Stricter than the harvest log: the upstream records every byte it got,
    and none of the twelve credentials is among them, in any part of the request."""
    upstream = scripted_upstream()
    creds = fake_credentials()
    text, _ = session_text(creds)
    body = agent_request(dialect, text)
    # secrets in the system prompt and in a tool definition too
    system = "deploy key: " + creds["github"]
    if dialect == "openai-chat":
        body["messages"][0]["content"] = system
        body["tools"][0]["function"]["description"] += " token " + creds["npm"]
    elif dialect == "openai-responses":
        body["instructions"] = system
        body["tools"][0]["description"] += " token " + creds["npm"]
    else:
        body["system"] = [{"type": "text", "text": system}]
        body["tools"][0]["description"] += " token " + creds["npm"]
    with procs.start("guard", "--upstream", upstream.url, "--vault-dir", str(tmp_path)) as guard:
        reply = post_json(guard.url, PATHS[dialect], body, headers_for(dialect))
    assert reply.status == 200, reply.body[:300]
    seen = upstream.requests[-1].body.decode()
    leaked = [name for name, value in creds.items() if value in seen]
    assert leaked == [], f"reached the upstream: {leaked}"
    assert "RG_SECRET_" in seen
