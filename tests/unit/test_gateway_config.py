"""The gateway's configuration file: what a valid file means, and what an operator reads when
a file is wrong (file, line, table, field, what was expected)."""

from __future__ import annotations

import os
import random
import re
import string
from pathlib import Path

import pytest

from relayguard.errors import ConfigError
from relayguard.gateway.config import load_config, resolve_secrets
from relayguard.gateway.prices import PriceTable

DOC = Path(__file__).resolve().parents[2] / "docs" / "gateway-config.md"

MINIMAL = """\
[[provider]]
name = "mock-a"
base_url = "http://127.0.0.1:8081"
dialect = "openai-chat"

[[model]]
name = "mock-large"
targets = [{ provider = "mock-a", model = "mock-large" }]

[admin]
token_env = "RG_TEST_ADMIN_TOKEN"
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path


def write(text: str, name: str = "gateway.toml") -> str:
    Path(name).write_text(text)
    return name


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(text))
    return str(info.value)


def doc_example() -> str:
    match = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert match, "docs/gateway-config.md has no ```toml example"
    return match.group(1)


# -- valid files --------------------------------------------------------------------------------

def test_the_documented_example_loads_as_documented(workdir: Path) -> None:
    (workdir / "keys").mkdir()
    (workdir / "keys" / "signing.key").write_text("{}")
    cfg = load_config(write(doc_example()))
    assert [p.name for p in cfg.providers] == ["mock-a", "mock-b", "openai"]
    mock_b = cfg.provider("mock-b")
    assert mock_b.base_url == "http://127.0.0.1:8082"  # trailing /v1 dropped
    assert (mock_b.read_timeout, mock_b.connect_timeout, mock_b.auth) == (120.0, 10.0, "x-api-key")
    assert cfg.provider("openai").auth == "bearer" and cfg.provider("openai").api_key_env == "OPENAI_API_KEY"
    large = cfg.model("mock-large")
    assert [(t.provider, t.model, t.weight) for t in large.targets] == [("mock-a", "mock-large", 3.0),
                                                                         ("mock-b", "mock-large", 1.0)]
    assert cfg.model("smart").targets[1].weight == 0.0
    assert cfg.admin.token_env == "RELAYGUARD_ADMIN_TOKEN"
    assert cfg.signing.key == str(workdir / "keys" / "signing.key")
    assert cfg.storage.database == str(workdir / "gateway.sqlite")  # relative to the config's directory
    assert cfg.storage.log == str(workdir / "gateway-log.sqlite")
    assert (cfg.routing.retries, cfg.routing.backoff_ms, cfg.routing.cooldown_seconds,
            cfg.routing.failure_threshold) == (2, 100.0, 30.0, 3)
    assert PriceTable.load(cfg.prices).cost("gpt-4.1", 1_000_000, 1_000_000) == 10.0


def test_the_documented_error_messages_are_what_the_gateway_says(workdir: Path) -> None:
    (workdir / "keys").mkdir()
    (workdir / "keys" / "signing.key").write_text("{}")
    example = doc_example()
    documented = [line.strip() for line in DOC.read_text().splitlines() if line.startswith("    gateway.toml")]
    edits = [
        ('dialect = "openai-chat"\napi_key_env', 'dialect = "openai"\napi_key_env'),
        ('{ provider = "mock-a", model = "mock-small", weight = 0 }',
         '{ provider = "mock-c", model = "mock-small", weight = 0 }'),
        ("read_timeout = 120", "timeout = 120"),
        ("read_timeout = 120", "read_timeout 120"),
    ]
    said = []
    for old, new in edits:
        assert old in example
        said.append(error_of(example.replace(old, new, 1)))
    assert said == documented


def test_defaults_when_sections_are_left_out(workdir: Path) -> None:
    cfg = load_config(write(MINIMAL))
    prov = cfg.providers[0]
    assert (prov.connect_timeout, prov.read_timeout, prov.auth, prov.api_key_env, prov.api_key_file) == \
        (10.0, 600.0, "bearer", None, None)
    data_dir = workdir / "xdg" / "relayguard"
    assert cfg.storage.database == str(data_dir / "gateway.sqlite")
    assert cfg.storage.log == str(data_dir / "gateway-log.sqlite")
    assert cfg.signing.key is None and cfg.prices == () and cfg.egress == ()
    assert (cfg.routing.retries, cfg.routing.failure_threshold) == (2, 3)


def test_anthropic_providers_default_to_x_api_key_and_auth_can_be_chosen(workdir: Path) -> None:
    text = MINIMAL.replace('dialect = "openai-chat"', 'dialect = "anthropic-messages"')
    assert load_config(write(text)).providers[0].auth == "x-api-key"
    text = text.replace('dialect = "anthropic-messages"', 'dialect = "anthropic-messages"\nauth = "bearer"')
    assert load_config(write(text)).providers[0].auth == "bearer"


@pytest.mark.parametrize("given, kept", [
    ("http://127.0.0.1:8081/v1", "http://127.0.0.1:8081"),
    ("http://127.0.0.1:8081/v1/", "http://127.0.0.1:8081"),
    ("HTTPS://router.example.com/", "https://router.example.com"),
    ("https://openrouter.example/api/v1", "https://openrouter.example/api"),
])
def test_base_url_is_the_server_root(workdir: Path, given: str, kept: str) -> None:
    cfg = load_config(write(MINIMAL.replace("http://127.0.0.1:8081", given)))
    assert cfg.providers[0].base_url == kept


def test_log_false_disables_the_transparency_log(workdir: Path) -> None:
    cfg = load_config(write(MINIMAL + "[storage]\nlog = false\ndatabase = \"data/keys.sqlite\"\n"))
    assert cfg.storage.log is None
    assert cfg.storage.database == str(workdir / "data" / "keys.sqlite")


def test_egress_allows_only_providers_and_listed_hosts(workdir: Path) -> None:
    cfg = load_config(write(MINIMAL + '[egress]\nallow = ["*.corp.example", "proxy.example.net:3128", '
                                      '"https://api.example.org"]\n'))
    assert cfg.egress_allows("127.0.0.1", 8081)
    assert not cfg.egress_allows("127.0.0.1", 8082)  # a provider's host only on its own port
    assert cfg.egress_allows("llm.corp.example", 443) and not cfg.egress_allows("corp.example", 443)
    assert cfg.egress_allows("proxy.example.net", 3128) and not cfg.egress_allows("proxy.example.net", 80)
    assert cfg.egress_allows("API.example.org.", 443) and not cfg.egress_allows("api.example.org", 80)
    assert not cfg.egress_allows("evil.example", 443)


# -- errors: file, line, table, field ------------------------------------------------------------

def test_dialect_error_reads_like_the_issue(workdir: Path) -> None:
    text = MINIMAL.replace('name = "mock-a"', 'name = "openai"').replace('provider = "mock-a"', 'provider = "openai"')
    text = text.replace('dialect = "openai-chat"', 'dialect = "openai"')
    assert error_of(text) == ('gateway.toml:4: [[provider]] "openai" field "dialect": expected one of '
                              'openai-chat, openai-responses, anthropic-messages, got "openai"')


def test_errors_in_the_nth_provider_name_its_own_line(workdir: Path) -> None:
    second = ('\n# a comment that mentions [[provider]] and name = "x"\n[[provider]]\nname = "mock-b"  # "#"\n'
              'base_url = "http://127.0.0.1:8082"\ndialect = "openai-chat"\nread_timeout = -1\n')
    text = MINIMAL.replace("\n[[model]]", second + "\n[[model]]", 1)
    lines = text.splitlines()
    expected = lines.index("read_timeout = -1") + 1
    assert error_of(text) == (f'gateway.toml:{expected}: [[provider]] "mock-b" field "read_timeout": '
                              'expected a number from 0.001 to 86400, got -1')


def test_an_inline_target_error_names_the_target_and_its_line(workdir: Path) -> None:
    text = MINIMAL.replace('targets = [{ provider = "mock-a", model = "mock-large" }]',
                           'targets = [\n  { provider = "mock-a", model = "mock-large" },\n'
                           '  { provider = "mock-a", model = "mock-small", weight = true },\n]')
    assert error_of(text) == ('gateway.toml:10: [[model]] "mock-large" targets[1] field "weight": '
                              'expected a number, got true')


@pytest.mark.parametrize("edit, expected", [
    (('name = "mock-a"\n', ''), 'gateway.toml:1: [[provider]] #1: missing required field "name"'),
    (('dialect = "openai-chat"', 'dialect = "openai-chat"\nweight = 2'),
     'gateway.toml:5: [[provider]] "mock-a" field "weight": unknown field; known fields: name, base_url, '
     'dialect, api_key_env, api_key_file, connect_timeout, read_timeout, auth'),
    (('name = "mock-a"', 'name = "mock a"'),
     'gateway.toml:2: [[provider]] "mock a" field "name": use 1-64 letters, digits, \'_\', \'.\' or \'-\', '
     'got "mock a"'),
    (('model = "mock-large" }', 'model = "mock-large", weight = 0 }'),
     'gateway.toml:8: [[model]] "mock-large" field "targets": every target has weight 0; at least one must '
     'be above 0'),
    (('targets = [{ provider = "mock-a", model = "mock-large" }]', 'targets = []'),
     'gateway.toml:8: [[model]] "mock-large" field "targets": expected a non-empty array of inline tables like '
     '[{ provider = "NAME", model = "UPSTREAM-MODEL", weight = 1 }]'),
    (('token_env = "RG_TEST_ADMIN_TOKEN"', 'token_env = "RG TEST"'),
     'gateway.toml:11: [admin] field "token_env": expected the NAME of an environment variable (letters, '
     'digits and \'_\', e.g. OPENAI_API_KEY), not the secret itself; export the secret in that variable'),
    (('[admin]\ntoken_env = "RG_TEST_ADMIN_TOKEN"\n', ''),
     'gateway.toml: missing [admin] with token_env, the environment variable holding the admin API\'s token, '
     'e.g. [admin] token_env = "RELAYGUARD_ADMIN_TOKEN"'),
    (('[[model]]', '[routing]\nretries = 3\n[[modle]]'),
     'gateway.toml:8: unknown section or key "modle"; known sections: [[provider]], [[model]], [admin], '
     '[signing], [storage], [routing], [[price]], [egress]'),
    (('[[provider]]', '[provider]'),
     'gateway.toml:1: [provider]: write [[provider]] (double brackets), one table per provider'),
])
def test_error_messages(workdir: Path, edit: tuple[str, str], expected: str) -> None:
    assert edit[0] in MINIMAL
    assert error_of(MINIMAL.replace(*edit, 1)) == expected


def test_duplicate_names_are_refused(workdir: Path) -> None:
    dup = MINIMAL.replace("\n[[model]]", '\n[[provider]]\nname = "mock-a"\nbase_url = "http://h:1"\n'
                                         'dialect = "openai-chat"\n\n[[model]]', 1)
    assert 'gateway.toml:7: [[provider]] "mock-a" field "name": two providers are named "mock-a"' in error_of(dup)
    dup = MINIMAL + '\n[[model]]\nname = "mock-large"\ntargets = [{ provider = "mock-a", model = "x" }]\n'
    assert 'gateway.toml:14: [[model]] "mock-large" field "name": two [[model]] tables are named' in error_of(dup)


def test_a_target_naming_an_unknown_provider(workdir: Path) -> None:
    text = MINIMAL.replace('{ provider = "mock-a"', '{ provider = "mock-z"')
    assert error_of(text) == ('gateway.toml:8: [[model]] "mock-large" targets[0] field "provider": no '
                              '[[provider]] is named "mock-z"; providers: mock-a')


@pytest.mark.parametrize("url, problem", [
    ("127.0.0.1:8081", "expected an http:// or https:// URL"),
    ("ftp://files.example", "expected an http:// or https:// URL"),
    ("http://127.0.0.1:99999", "is not a valid URL"),
    ("http://h.example/?key=1", "must not have a query or fragment"),
    ("http://", "has no host"),
])
def test_bad_base_urls(workdir: Path, url: str, problem: str) -> None:
    message = error_of(MINIMAL.replace("http://127.0.0.1:8081", url))
    assert message.startswith('gateway.toml:3: [[provider]] "mock-a" field "base_url": ') and problem in message


def test_credentials_in_a_base_url_are_refused_without_being_repeated(workdir: Path) -> None:
    message = error_of(MINIMAL.replace("http://127.0.0.1:8081", "https://user:hunter2-fake@h.example"))
    assert message.startswith("gateway.toml:3: ") and "hunter2" not in message


def test_toml_syntax_errors_keep_line_and_column(workdir: Path) -> None:
    message = error_of(MINIMAL.replace('dialect = "openai-chat"', 'dialect = openai-chat'))
    assert message.startswith("gateway.toml: invalid TOML: ") and "line 4, column 11" in message


def test_unreadable_or_non_utf8_files(workdir: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read the gateway configuration"):
        load_config("missing.toml")
    Path("latin.toml").write_bytes(b'[admin]\ntoken_env = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin\.toml: the configuration is not UTF-8 text"):
        load_config("latin.toml")


@pytest.mark.parametrize("field", ["api_key", "key", "token"])
def test_a_key_written_in_a_provider_is_refused(workdir: Path, field: str) -> None:
    message = error_of(MINIMAL.replace('dialect = "openai-chat"', f'dialect = "openai-chat"\n{field} = "abc123"'))
    assert message.startswith(f'gateway.toml:5: [[provider]] "mock-a" field "{field}": a provider\'s key never '
                              'goes in the configuration file')
    assert "api_key_env" in message and "abc123" not in message


def test_a_credential_anywhere_in_the_file_is_refused(workdir: Path) -> None:
    rng = random.Random(6)  # a FAKE key shaped like an Anthropic one, generated here, never a real one
    fake = "sk-" + "ant-api03-" + "".join(rng.choice(string.ascii_letters + string.digits + "_-")
                                          for _ in range(93)) + "AA"
    message = error_of(MINIMAL.replace('name = "mock-a"', f'name = "mock-a"  # {fake}'))
    assert message.startswith("gateway.toml:2: this looks like a credential (anthropic_api_key)")
    assert fake not in message and "api_key_env" in message


def test_key_env_and_key_file_together_are_refused(workdir: Path) -> None:
    text = MINIMAL.replace('dialect = "openai-chat"', 'dialect = "openai-chat"\napi_key_env = "K"\n'
                                                      'api_key_file = "k.txt"')
    assert error_of(text) == ('gateway.toml:6: [[provider]] "mock-a" field "api_key_file": set api_key_env or '
                              'api_key_file, not both')


def test_egress_entries_that_allow_too_much_are_refused(workdir: Path) -> None:
    for entry, problem in [("*", "would allow every host"), ("*.com", "is too wide"),
                           ("https://h.example/path", "has a path"), ("not a host", "is not a host name")]:
        message = error_of(MINIMAL + f'[egress]\nallow = ["{entry}"]\n')
        assert message.startswith(f'gateway.toml:13: [egress] field "allow": entry "{entry}" {problem}')


def test_a_missing_signing_key_file_is_named(workdir: Path) -> None:
    message = error_of(MINIMAL + '[signing]\nkey = "keys/signing.key"\n')
    assert message.startswith(f'gateway.toml:13: [signing] field "key": no signing key file at '
                              f'{workdir / "keys" / "signing.key"}; create one with `relayguard keys generate')


def test_price_overrides(workdir: Path) -> None:
    text = MINIMAL + '[[price]]\nmodel = "local-llama"\ninput_per_mtok = 0\noutput_per_mtok = 0.5\n'
    cfg = load_config(write(text))
    assert PriceTable.load(cfg.prices).cost("local-llama", 0, 2_000_000) == 1.0
    message = error_of(MINIMAL + '[[price]]\nmodel = "m"\ninput_per_mtok = 1\n')
    assert message == 'gateway.toml:12: [[price]] "m": missing required field "output_per_mtok"'


# -- secrets ------------------------------------------------------------------------------------

ADMIN = {"RG_TEST_ADMIN_TOKEN": "t" * 32}


def test_secrets_come_from_the_environment_and_key_files(workdir: Path) -> None:
    text = MINIMAL.replace('dialect = "openai-chat"', 'dialect = "openai-chat"\napi_key_env = "UPSTREAM_KEY"')
    text += ('\n[[provider]]\nname = "filed"\nbase_url = "http://127.0.0.1:9"\ndialect = "openai-chat"\n'
             'api_key_file = "secrets/filed.key"\n\n[[provider]]\nname = "local"\nbase_url = "http://127.0.0.1:7"\n'
             'dialect = "openai-chat"\n')
    (workdir / "secrets").mkdir()
    key_file = workdir / "secrets" / "filed.key"
    key_file.write_text("fake-file-key\n")
    key_file.chmod(0o600)
    secrets = resolve_secrets(load_config(write(text)), {**ADMIN, "UPSTREAM_KEY": " fake-env-key "})
    assert secrets.provider_keys == {"mock-a": "fake-env-key", "filed": "fake-file-key", "local": None}
    assert secrets.admin_token == "t" * 32 and secrets.warnings == ()
    key_file.chmod(0o644)
    secrets = resolve_secrets(load_config(write(text)), {**ADMIN, "UPSTREAM_KEY": "k"})
    assert len(secrets.warnings) == 1 and "readable by others (mode 0644); run: chmod 600" in secrets.warnings[0]
    assert "fake-file-key" not in secrets.warnings[0]


def test_a_missing_provider_key_stops_the_gateway_naming_the_provider(workdir: Path) -> None:
    text = MINIMAL.replace('dialect = "openai-chat"', 'dialect = "openai-chat"\napi_key_env = "UPSTREAM_KEY"')
    cfg = load_config(write(text))
    with pytest.raises(ConfigError) as info:
        resolve_secrets(cfg, ADMIN)
    assert str(info.value).startswith('gateway.toml:1: [[provider]] "mock-a": the environment variable '
                                      'UPSTREAM_KEY (api_key_env) is not set or is empty')
    cfg = load_config(write(MINIMAL.replace('dialect = "openai-chat"',
                                            'dialect = "openai-chat"\napi_key_file = "nowhere.key"')))
    with pytest.raises(ConfigError, match=r'\[\[provider\]\] "mock-a": cannot read key file .*nowhere\.key'):
        resolve_secrets(cfg, ADMIN)


@pytest.mark.parametrize("token, state", [(None, "is not set"), ("short", "holds only 5 characters")])
def test_the_admin_token_must_be_set_and_long(workdir: Path, token: str | None, state: str) -> None:
    cfg = load_config(write(MINIMAL))
    env = {} if token is None else {"RG_TEST_ADMIN_TOKEN": token}
    with pytest.raises(ConfigError) as info:
        resolve_secrets(cfg, env)
    assert str(info.value).startswith(f'gateway.toml: [admin] field "token_env": the admin token variable '
                                      f'RG_TEST_ADMIN_TOKEN {state}; set it to a random token of at least 16')


def test_a_key_with_a_newline_inside_is_refused(workdir: Path) -> None:
    text = MINIMAL.replace('dialect = "openai-chat"', 'dialect = "openai-chat"\napi_key_env = "UPSTREAM_KEY"')
    with pytest.raises(ConfigError, match="contains spaces or control characters"):
        resolve_secrets(load_config(write(text)), {**ADMIN, "UPSTREAM_KEY": "abc\r\nX-Injected: 1"})


def test_resolve_secrets_reads_the_process_environment_by_default(workdir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RG_TEST_ADMIN_TOKEN", "x" * 20)
    assert resolve_secrets(load_config(write(MINIMAL))).admin_token == "x" * 20
    assert os.environ["RG_TEST_ADMIN_TOKEN"] == "x" * 20


def test_line_finding_is_not_fooled_by_strings_and_comments() -> None:
    from relayguard.gateway.toml_lines import line_of, value_lines

    text = ('title = """\n[[provider]]\nname = "fake"\n"""  # [[provider]]\n'
            "note = 'x = [ { ] # \\'\n"
            "[[provider]]\n"
            'name = "real"  # name = "not this"\n'
            "targets = [\n  { a = 1 },\n  { b = '}' , c = [1, [2, 3]] },\n]\n"
            "[[provider]]\n"
            "'quoted.key' = 1\n")
    lines = value_lines(text)
    assert lines[("provider", 0)] == 6 and lines[("provider", 0, "name")] == 7
    assert lines[("provider", 0, "targets", 1, "c")] == 10
    assert lines[("provider", 1)] == 12 and lines[("provider", 1, "quoted.key")] == 13
    assert line_of(lines, ("provider", 1, "missing", 3)) == 12
    assert line_of(lines, ("admin", "token_env")) is None
