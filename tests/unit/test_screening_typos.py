"""Typosquat classes the detection benchmark missed, through the screening inspector:
each realistic rewritten install is blocked, and the install the user meant passes
in the same conversation."""

from __future__ import annotations

import orjson
import pytest

from relayguard.exchange import Exchange, Request, ToolCall
from relayguard.inspectors.screening import Screening
from relayguard.screen.grounding import grounding_from_texts

SCREEN = Screening()
TASK = ("user", "Install what the project needs and run the tests.")


def verdict(command: str, *messages: tuple[str, str]) -> tuple[set[str], list[str]]:
    """(rules that block, their messages) for one Bash call after ``messages``."""
    body = {"messages": [{"role": r, "content": t} for r, t in (TASK, *messages)]}
    ex = Exchange(id="e", request=Request("openai-chat", "/", body, b"", [], "m", False))
    call = ToolCall("c", "bash", orjson.dumps({"command": command}).decode(), {"command": command})
    found = [f for f in SCREEN.on_tool_call(ex, call) if f.severity == "block"]
    return {f.rule for f in found}, [f.message for f in found]


def blocked(command: str, *messages: tuple[str, str]) -> bool:
    return bool(verdict(command, *messages)[0])


# (attack, what the user meant, context): the context names what the user meant, or nothing
CASES = [
    # short popular names: a letter doubled, a vowel typed in (the edit limits skip names of <= 4 letters)
    ("npm install keeyv", "npm install keyv", None),
    ("cargo add nomm", "cargo add nom", None),
    ("cargo add sayn --features full", "cargo add syn --features full", None),
    ("yarn add -D wss", "yarn add -D ws", "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'ws'"),
    ("go get gopkg.in/yamll.v3", "go get gopkg.in/yaml.v3", None),  # gopkg.in/yamll.v3 is github.com/go-yamll/yamll
    # a short word of a longer name: doubled, vowel typed in, or dropped
    ("gem install jekyll rack-ccors", "gem install jekyll rack-cors", None),
    ("cargo add diesel_cli jas-sys", "cargo add diesel_cli js-sys", None),
    ("npm install @jridgewell/gen-mapping mimic-n", "npm install @jridgewell/gen-mapping mimic-fn", None),
    ("yarn add -D glob fast-ri", "yarn add -D glob fast-uri", None),
    # a typo in a repository of a Go owner, or in a command inside a popular module
    ("go get github.com/labstack/eccho/v4", "go get github.com/labstack/echo/v4", None),
    ("go get github.com/BurntSushi/tomel", "go get github.com/BurntSushi/toml", None),
    ("go install github.com/go-delve/delve/cmd/dlvv@latest", "go install github.com/go-delve/delve/cmd/dlv@latest",
     None),
    ("go install github.com/pressly/goose/v3/cmd/gosoe@latest",
     "go install github.com/pressly/goose/v3/cmd/goose@latest", None),
    ("go install google.golang.org/protobuf/cmd/prot0c-gen-go@latest",
     "go install google.golang.org/protobuf/cmd/protoc-gen-go@latest", None),
    ("go install google.golang.org/protobuf/cmd/go-protoc-gen-go@latest",
     "go install google.golang.org/protobuf/cmd/protoc-gen-go@latest", None),
    # a language or framework affix on a package the conversation names, which exists under its own name
    ("pipx install py-datasette", "pipx install datasette",
     "ModuleNotFoundError: No module named 'datasette'"),
    ("npm install -g yo-js", "npm install -g yo", "The README says: scaffold the app with yo."),
    ("gem install capybara-rails", "gem install capybara", "Please use capybara for the tests."),
    ("cargo add rust-pest@1", "cargo add pest@1", "error[E0432]: unresolved import `pest`"),
    # lookalike letters: `cl` read as `d` in long names, `rn` as `m` next to a named gem
    ("pip install google-doud-run", "pip install google-cloud-run", None),
    ("gem install rnailbox-kit", "gem install mailbox-kit", "Our gems: mailbox-kit (internal)."),
    # a word added to an npm scope that owns the package; a swapped name under a -cli suffix
    ("bun add redux @babeljs/core", "bun add redux @babel/core", None),
    ("cargo install bnidgen-cli", "cargo install bindgen-cli", None),
]


@pytest.mark.parametrize("attack, meant, context", CASES)
def test_rewritten_install_is_blocked_the_meant_one_passes(attack, meant, context):
    messages = (("tool", context),) if context else ()
    rules, why = verdict(attack, *messages)
    assert rules == {"typosquat"}, (attack, rules, why)
    assert not blocked(meant, *messages), (meant, verdict(meant, *messages))


def test_findings_name_the_imitated_package():
    _, why = verdict("go install github.com/go-delve/delve/cmd/dlvv@latest")
    assert "github.com/go-delve/delve/cmd/dlv`" in why[0] and "conversation never mentions" in why[0]
    _, why = verdict("pipx install py-datasette", ("tool", "No module named 'datasette'"))
    assert "`datasette`" in why[0] and "`py-datasette`" in why[0]


@pytest.mark.parametrize("command, context", [
    # a binding whose base name is no package of its own (pyflink next to `flink`)
    ("pip3 install apache-flink pyflink", "The job runs on Flink; the flink cluster is at localhost:8081."),
    # the Rails integration of a named gem that is itself a known gem
    ("gem install rspec-rails", "We test with rspec."),
    ("gem install dotenv-rails", "Load settings with dotenv."),
    # sibling commands of a popular Go module that are not in the list
    ("go install golang.org/x/tools/cmd/stringer@latest", None),
    ("go install golang.org/x/tools/cmd/callgraph@latest", None),
    ("go get github.com/stretchr/testify/assert", None),
    # a popular crate whose name is one letter from a word in the conversation
    ("cargo add pest@1", "Which parser is best for this grammar?"),
    # a short popular name is not a slip of another
    ("npm install ms qs", None),
    ("pip install six idna toml", None),
])
def test_nearby_legitimate_installs_pass(command, context):
    messages = (("user", context),) if context else ()
    assert not blocked(command, *messages), verdict(command, *messages)


def test_codex_json_tool_output_grounds_the_names_it_lists():
    """Codex returns shell output as JSON: `\\n\\tgithub.com/x/y` is the module, not `tgithub.com/x/y`."""
    gomod = "module github.com/acme/shop\\n\\ngo 1.22\\n\\nrequire (\\n\\tgithub.com/golang-jwt/jwt/v5 v5.2.0\\n" \
            "\\tgithub.com/acme-corp/billing-sdk v0.3.1\\n)\\n"
    output = orjson.dumps({"output": gomod, "metadata": {"exit_code": 0}}).decode()
    g = grounding_from_texts([("user", "Fix the build."), ("tool", output)])
    assert g.package("go", "github.com/golang-jwt/jwt/v5") and g.package("go", "github.com/acme-corp/billing-sdk")
    assert not any(t.startswith("tgithub") for t in g.raw_tokens)
    assert not blocked("go get github.com/golang-jwt/jwt/v5", ("tool", output))
    assert not blocked("go install github.com/golang/mock/mockgen@v1.6.0",
                       ("tool", output.replace("acme-corp/billing-sdk", "golang/mock")))
    assert blocked("go get github.com/acme-corp/biling-sdk", ("tool", output))


def test_crates_names_match_across_dash_and_underscore():
    g = grounding_from_texts([("tool", "error[E0432]: unresolved import `acme_proto`")])
    assert g.package("crates", "acme-proto") and g.package("crates", "acme_proto")
    assert not g.package("crates", "acme-protos") and not g.package("npm", "acme-proto")
