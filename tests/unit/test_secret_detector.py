"""Secret detector: every kind found and not over-found, corpus recall, safety properties, scan CLI.

Every credential below is FAKE: generated at run time from a seeded RNG and literal pieces, so
no string in this file looks like a live credential to a scanner.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import string
import sys
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relayguard.vault import detect, rules, scan
from relayguard.vault.detect import (
    KINDS,
    MAX_SCAN,
    PLACEHOLDER_RE,
    SecretDetector,
    SecretMatch,
    detector,
    make_placeholder,
)

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"

LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
DIGITS = string.digits
B62 = string.ascii_letters + string.digits
URLSAFE = B62 + "_-"
B64 = B62 + "+/"
HEX = "0123456789abcdef"
B32 = UPPER + "234567"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def rnd(alphabet: str, n: int, seed: int) -> str:
    """A FAKE random body (seeded, so the tests are reproducible)."""
    r = random.Random(seed)
    return "".join(r.choice(alphabet) for _ in range(n))


def b58encode(raw: bytes) -> str:
    n = int.from_bytes(raw, "big")
    out = ""
    while n:
        n, d = divmod(n, 58)
        out = B58[d] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def b58check(payload: bytes) -> str:
    return b58encode(payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4])


def b64url(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def pem(label: str, seed: int, sep: str = "\n", header: str = "") -> str:
    """A FAKE armored block: random base64 lines between BEGIN and END markers."""
    lines = [rnd(B64, 64, seed + i) for i in range(8)]
    begin = "-----BEGIN " + label + "-----"
    end = "-----END " + label + "-----"
    return sep.join([begin] + ([header, ""] if header else []) + lines + [end])


def mnemonic(seed: int, words: int = 12, valid: bool = True) -> str:
    table = list(rules.bip39_words())
    r = random.Random(seed)
    while True:
        phrase = [r.choice(table) for _ in range(words)]
        idx = [rules.bip39_words()[w] for w in phrase]
        if rules.bip39_valid(idx) == valid and len(set(phrase)) == words:
            return " ".join(phrase)


def wif(seed: int, corrupt: bool = False) -> str:
    key = random.Random(seed).randbytes(32)
    value = b58check(b"\x80" + key + b"\x01")
    if corrupt:
        value = value[:-1] + ("2" if value[-1] != "2" else "3")
    return value


def xprv(seed: int, corrupt: bool = False) -> str:
    r = random.Random(seed)
    payload = bytes.fromhex("0488ade4") + b"\0" * 9 + r.randbytes(32) + b"\0" + r.randbytes(32)
    value = b58check(payload)
    if corrupt:
        value = value[:-1] + ("2" if value[-1] != "2" else "3")
    return value


def discord(seed: int, digits: bool = True) -> str:
    r = random.Random(seed)
    ident = str(r.randrange(10 ** 17, 10 ** 19)) if digits else rnd(LOWER, 18, seed)
    first = base64.b64encode(ident.encode()).decode().rstrip("=")
    return first + "." + rnd(URLSAFE, 6, seed + 1) + "." + rnd(URLSAFE, 38, seed + 2)


def jwt(seed: int, header: dict | None = None) -> str:
    head = b64url(header if header is not None else {"alg": "HS256", "typ": "JWT"})
    return head + "." + b64url({"sub": str(seed), "iat": 1700000000}) + "." + rnd(URLSAFE, 43, seed)


U = str(uuid.UUID(int=random.Random(7).getrandbits(128)))

# kind -> (text before, FAKE secret, text after), negative text (must give no finding at all)
CASES: dict[str, tuple[tuple[str, str, str], str]] = {
    "openai_project_key": (("OPENAI_API_KEY=", "sk-" + "proj-" + rnd(URLSAFE, 70, 1) + "T3Blbk" + "FJ"
                            + rnd(URLSAFE, 70, 2), ""), "git checkout -b sk-proj-refactor"),
    "openai_service_account_key": (("key: ", "sk-" + "svcacct-" + rnd(URLSAFE, 60, 3), ""),
                                   "see sk-svcacct-docs for details"),
    "openai_admin_key": (("export K='", "sk-" + "admin-" + rnd(URLSAFE, 60, 4), "'"), "open sk-admin-panel now"),
    "openai_api_key": (("openai.api_key = \"", "sk-" + rnd(B62, 20, 5) + "T3Blbk" + "FJ" + rnd(B62, 20, 6), "\""),
                       "OPENAI_API_KEY=sk-your-key-here"),
    "openrouter_api_key": (("Bearer ", "sk-" + "or-v1-" + rnd(HEX, 64, 7), ""), "sk-or-v1-" + rnd(HEX, 20, 7)),
    "anthropic_api_key": (("ANTHROPIC_API_KEY=", "sk-" + "ant-api03-" + rnd(URLSAFE, 93, 8) + "AA", ""),
                          "ANTHROPIC_API_KEY=sk-ant-" + "x" * 40),
    "anthropic_admin_key": (("k = '", "sk-" + "ant-admin01-" + rnd(URLSAFE, 93, 9) + "AA", "'"),
                            "sk-ant-admin01-short"),
    "anthropic_oauth_token": (("CLAUDE_CODE_OAUTH_TOKEN=", "sk-" + "ant-oat01-" + rnd(URLSAFE, 95, 10), ""),
                              "the sk-ant-oat01- prefix marks OAuth tokens"),
    "aws_access_key_id": (("aws_access_key_id = ", "AK" + "IA" + rnd(B32, 16, 11), ""),
                          "aws_access_key_id = AKIA" + "IOSFODNN7" + "EXAMPLE"),
    "aws_temporary_access_key_id": (("AWS_ACCESS_KEY_ID=", "AS" + "IA" + rnd(B32, 16, 12), ""),
                                    "region = ASIA-PACIFIC-SOUTHEAST"),
    "aws_secret_access_key": (("aws_secret_access_key = ", rnd(B64, 40, 13), ""),
                              "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"),
    "aws_session_token": (("AWS_SESSION_TOKEN=", "IQoJb3JpZ2luX2Vj" + rnd(B64, 300, 14), ""),
                          "aws sts get-session-token --duration-seconds 3600"),
    "github_pat": (("GITHUB_TOKEN=", "gh" + "p_" + rnd(B62, 36, 15), ""), "ghp_pages_branch = 'gh-pages'"),
    "github_oauth_token": (("token ", "gh" + "o_" + rnd(B62, 36, 16), ""), "gho_not_a_token here"),
    "github_user_to_server_token": (("x-access-token:", "gh" + "u_" + rnd(B62, 36, 17), ""), "ghu_short"),
    "github_server_to_server_token": (("GH_TOKEN=", "gh" + "s_" + rnd(B62, 36, 18), ""), "ghs_" + "x" * 36),
    "github_refresh_token": (("refresh=", "gh" + "r_" + rnd(B62, 76, 19), ""), "ghr_docs"),
    "github_fine_grained_pat": (("GITHUB_TOKEN=", "github" + "_pat_" + rnd(B62, 22, 20) + "_" + rnd(B62, 59, 21), ""),
                                "github_pat_scopes = ['repo', 'workflow']"),
    "gitlab_pat": (("PRIVATE-TOKEN: ", "gl" + "pat-" + rnd(URLSAFE, 20, 22), ""), "glpat-short"),
    "gitlab_token": (("trigger token ", "gl" + "ptt-" + rnd(HEX, 40, 23), ""), "glrt-abc"),
    "slack_bot_token": (("SLACK_BOT_TOKEN=", "xo" + "xb-" + rnd(DIGITS, 10, 24) + "-" + rnd(DIGITS, 13, 25) + "-"
                         + rnd(B62, 24, 26), ""), "SLACK_BOT_TOKEN=xoxb-your-bot-token"),
    "slack_user_token": (("token: ", "xo" + "xp-" + rnd(DIGITS, 11, 27) + "-" + rnd(DIGITS, 11, 28) + "-"
                          + rnd(DIGITS, 13, 29) + "-" + rnd(HEX, 32, 30), ""), "xoxp-your-user-token"),
    "slack_token": (("refresh ", "xo" + "xe-1-" + rnd(B62, 146, 31), ""), "xoxs-abc"),
    "slack_app_token": (("SLACK_APP_TOKEN=", "xa" + "pp-1-A" + rnd(UPPER + DIGITS, 10, 32) + "-"
                         + rnd(DIGITS, 13, 33) + "-" + rnd(HEX, 64, 34), ""), "xapp-1-demo"),
    "slack_webhook_url": (("curl -X POST ", "https://hooks.slack.com/services/T" + rnd(UPPER + DIGITS, 8, 35)
                           + "/B" + rnd(UPPER + DIGITS, 10, 36) + "/" + rnd(B62, 24, 37), ""),
                          "docs: https://api.slack.com/messaging/webhooks"),
    "stripe_secret_key": (("STRIPE_SECRET_KEY=", "sk" + "_live_" + rnd(B62, 24, 38), ""),
                          "Stripe('pk" + "_live_" + rnd(B62, 24, 38) + "')"),
    "stripe_restricted_key": (("-H 'x: ", "rk" + "_live_" + rnd(B62, 24, 39), "'"), "rk_live_short"),
    "stripe_test_key": (("stripe.api_key = '", "sk" + "_test_" + rnd(B62, 24, 40), "'"), "STRIPE_SECRET_KEY=sk_test_..."),
    "stripe_webhook_secret": (("STRIPE_WEBHOOK_SECRET=", "wh" + "sec_" + rnd(B62, 32, 41), ""), "whsec_short"),
    "google_api_key": (("GOOGLE_API_KEY=", "AI" + "za" + rnd(URLSAFE, 35, 42), ""), "GOOGLE_API_KEY=AIza..."),
    "gcp_service_account_key": (('{"type": "service_account", "private_key": "',
                                 pem("PRIVATE" + " KEY", 43, sep="\\n"), '\\n"}'),
                                '{"private_key": "-----BEGIN PRIVATE' + ' KEY-----\\n...\\n-----END PRIVATE KEY-----\\n"}'),
    "gcp_oauth_client_secret": (('"client_secret": "', "GOC" + "SPX-" + rnd(URLSAFE, 28, 44), '"'), "GOCSPX-short"),
    "google_oauth_token": (("Authorization: Bearer ", "ya" + "29." + rnd(URLSAFE, 100, 45), ""), "ya29.short"),
    "azure_storage_account_key": (("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=",
                                   rnd(B64, 86, 46) + "==", ";EndpointSuffix=core.windows.net"),
                                  "AccountKey=<your-account-key>"),
    "azure_shared_access_key": (("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;"
                                 "SharedAccessKey=", rnd(B64, 43, 47) + "=", ""),
                                "SharedAccessKeyName=RootManageSharedAccessKey"),
    "azure_sas_token": (("https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&sp=r"
                         "&se=2030-01-01T00:00:00Z&sig=", rnd(B62, 43, 48) + "%3D", ""),
                        "https://example.com/search?q=cats&sig=" + rnd(B62, 44, 48)),
    "azure_ad_client_secret": (("AZURE_CLIENT_SECRET=", rnd(B62, 3, 49) + "8Q" + "~" + rnd(B62 + "_~.-", 34, 50), ""),
                               "Q~ is not a secret"),
    "huggingface_token": (("HF_TOKEN=", "hf" + "_" + rnd(string.ascii_letters, 34, 51), ""),
                          "pip install hf_transfer && python -c 'from huggingface_hub import hf_hub_download'"),
    "groq_api_key": (("GROQ_API_KEY=", "gs" + "k_" + rnd(B62, 52, 52), ""), "gsk_short"),
    "replicate_api_token": (("REPLICATE_API_TOKEN=", "r8" + "_" + rnd(B62, 37, 53), ""), "r8_short"),
    "xai_api_key": (("XAI_API_KEY=", "xa" + "i-" + rnd(B62, 80, 54), ""), "model: xai-grok-2"),
    "perplexity_api_key": (("PPLX=", "pp" + "lx-" + rnd(B62, 48, 55), ""), "pplx-api docs"),
    "mistral_api_key": (('client = Mistral(api_key="', rnd(B62, 32, 56), '")'),
                        "mistral weights checksum " + rnd(HEX, 32, 56)),
    "cohere_api_key": (('co = cohere.ClientV2("', rnd(B62, 40, 57), '")'),
                       "co = cohere.ClientV2(api_key=os.environ['CO_API_KEY'])"),
    "deepseek_api_key": (("DEEPSEEK_API_KEY=", "sk-" + rnd(HEX, 32, 58), ""), "branch sk-" + rnd(HEX, 32, 58)),
    "npm_token": (("//registry.npmjs.org/:_authToken=", "np" + "m_" + rnd(B62, 36, 59), ""), "npm_config_cache=/tmp/npm"),
    "pypi_token": (("TWINE_PASSWORD=", "py" + "pi-AgEIcHlwaS5vcmc" + rnd(URLSAFE, 80, 60), ""), "pip download pypi-simple"),
    "databricks_token": (("DATABRICKS_TOKEN=", "da" + "pi" + rnd(HEX, 32, 61), ""), "see dapi-docs"),
    "digitalocean_token": (("DO_TOKEN=", "do" + "p_v1_" + rnd(HEX, 64, 62), ""), "dop_v1_short"),
    "heroku_api_key": (("HEROKU_API_KEY=", "HR" + "KU-AA" + rnd(URLSAFE, 58, 63), ""), "request_id=" + U),
    "doppler_token": (("DOPPLER_TOKEN=", "dp" + ".pt." + rnd(B62, 43, 64), ""), "dp.pt.short"),
    "hashicorp_vault_token": (("VAULT_TOKEN=", "hv" + "s." + rnd(URLSAFE, 90, 65), ""), "hvs.short"),
    "terraform_cloud_token": (("token = \"", rnd(B62, 14, 66) + ".atlas" + "v1." + rnd(URLSAFE, 67, 67), "\""),
                              "see app.atlasv1.example"),
    "linear_api_key": (("LINEAR_API_KEY=", "lin" + "_api_" + rnd(B62, 40, 68), ""), "lin_api_docs"),
    "notion_token": (("NOTION_TOKEN=", "nt" + "n_" + rnd(DIGITS, 11, 69) + rnd(B62, 35, 70), ""), "ntn_short"),
    "atlassian_api_token": (("JIRA_API_TOKEN=", "ATA" + "TT3xFfGF0" + rnd(URLSAFE, 180, 71), ""), "ATATT3 tokens"),
    "postman_api_key": (("POSTMAN_API_KEY=", "PM" + "AK-" + rnd(HEX, 24, 72) + "-" + rnd(HEX, 34, 73), ""), "PMAK-123"),
    "twilio_api_key": (("TWILIO_KEY_SID=", "S" + "K" + rnd(HEX, 32, 74), ""), "SKIP_TESTS=1"),
    "twilio_auth_token": (("TWILIO_AUTH_TOKEN=", rnd(HEX, 32, 75), ""), "TWILIO_AUTH_TOKEN=$TWILIO_TOKEN"),
    "sendgrid_api_key": (("SENDGRID_API_KEY=", "S" + "G." + rnd(URLSAFE, 22, 76) + "." + rnd(URLSAFE, 43, 77), ""),
                         "SG.short"),
    "mailgun_api_key": (("MAILGUN_API_KEY=", "key" + "-" + rnd(HEX, 32, 78), ""), "cache-key-" + rnd(HEX, 32, 78)),
    "discord_bot_token": (("DISCORD_TOKEN=", discord(79), ""), "value " + discord(79, digits=False)),
    "discord_webhook_url": (("url: ", "https://discord.com/api/" + "webhooks/" + rnd(DIGITS, 18, 80) + "/"
                             + rnd(URLSAFE, 68, 81), ""), "docs: https://discord.com/api/webhooks"),
    "telegram_bot_token": (("TELEGRAM_BOT_TOKEN=", rnd(DIGITS, 10, 82) + ":A" + "A" + rnd(URLSAFE, 33, 83), ""),
                           "meeting 12:30:AA room"),
    "shopify_token": (("SHOPIFY_TOKEN=", "sh" + "pat_" + rnd(HEX, 32, 84), ""), "shpat_docs"),
    "grafana_token": (("GRAFANA_TOKEN=", "gl" + "c_" + rnd(B64, 60, 85), ""), "glc_short"),
    "newrelic_api_key": (("NEW_RELIC_API_KEY=", "NR" + "AK-" + rnd(UPPER + DIGITS, 27, 86), ""), "NRAK-123"),
    "sentry_auth_token": (("SENTRY_AUTH_TOKEN=", "sn" + "tryu_" + rnd(HEX, 64, 87), ""), "sntryu_short"),
    "supabase_token": (("SUPABASE_ACCESS_TOKEN=", "sb" + "p_" + rnd(HEX, 40, 88), ""), "sbp_short"),
    "langsmith_api_key": (("LANGSMITH_API_KEY=", "ls" + "v2_pt_" + rnd(HEX, 32, 89) + "_" + rnd(HEX, 10, 90), ""),
                          "lsv2_pt_short"),
    "planetscale_token": (("PLANETSCALE_TOKEN=", "psc" + "ale_tkn_" + rnd(B62, 43, 91), ""), "pscale_tkn_x"),
    "pulumi_access_token": (("PULUMI_ACCESS_TOKEN=", "pu" + "l-" + rnd(HEX, 40, 92), ""), "open a pul-request"),
    "square_token": (("SQUARE_SECRET=", "sq" + "0csp-" + rnd(URLSAFE, 43, 93), ""), "sq0csp-x"),
    "tailscale_key": (("TS_AUTHKEY=", "ts" + "key-auth-k" + rnd(B62, 10, 94) + "CNTRL-" + rnd(B62, 30, 95), ""),
                      "tskey-auth-x"),
    "onepassword_service_token": (("OP_SERVICE_ACCOUNT_TOKEN=", "op" + "s_eyJ" + rnd(B64, 250, 96), ""),
                                  "ops_eyJ"),
    "flyio_token": (("FLY_API_TOKEN=", "fo" + "1_" + rnd(URLSAFE, 43, 97), ""), "fo1_x"),
    "mapbox_secret_token": (("MAPBOX_TOKEN=", "s" + "k.eyJ" + rnd(B62, 40, 98) + "." + rnd(URLSAFE, 22, 99), ""),
                            "mapboxgl.accessToken = 'pk.eyJ" + rnd(B62, 40, 98) + "'"),
    "alibaba_access_key_id": (("ALIBABA_CLOUD_ACCESS_KEY_ID=", "LT" + "AI" + rnd(B62, 20, 100), ""), "LTAI"),
    "age_secret_key": (("# key\n", "AGE-" + "SECRET-KEY-1" + rnd(BECH32, 58, 101), ""), "AGE-SECRET-KEY-1..."),
    "jwt": (("Authorization: Bearer ", jwt(102), ""), "eyJ" + "foo.eyJbar.baz is how a JWT starts"),
    "pem_rsa_private_key": (("PRIVATE_KEY=\"", pem("RSA PRIVATE" + " KEY", 103), "\""),
                            "-----BEGIN RSA PRIVATE" + " KEY-----\n...\n-----END RSA PRIVATE KEY-----"),
    "pem_ec_private_key": (("", pem("EC PRIVATE" + " KEY", 104), "\n"), pem("PUBLIC" + " KEY", 104)),
    "pem_dsa_private_key": (("", pem("DSA PRIVATE" + " KEY", 105), ""), pem("CERTIFICATE", 105)),
    "openssh_private_key": (("cat > ~/.ssh/id_ed25519 <<'EOF'\n", pem("OPENSSH PRIVATE" + " KEY", 106), "\nEOF"),
                            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + rnd(B64, 43, 106) + " dev@laptop"),
    "pem_encrypted_private_key": (("", pem("ENCRYPTED PRIVATE" + " KEY", 107), ""),
                                  "-----BEGIN ENCRYPTED PRIVATE" + " KEY-----\n<paste key here>\n"
                                  "-----END ENCRYPTED PRIVATE KEY-----"),
    "pgp_private_key_block": (("", pem("PGP PRIVATE" + " KEY BLOCK", 108, header="Version: GnuPG v2"), ""),
                              pem("PGP PUBLIC" + " KEY BLOCK", 108)),
    "pem_private_key": (("key.pem:\n", pem("PRIVATE" + " KEY", 109), ""), pem("PUBLIC" + " KEY", 109)),
    "putty_private_key": (("", "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: dev\n"
                           "Public-Lines: 2\n" + rnd(B64, 64, 110) + "\n" + rnd(B64, 20, 111) + "\n"
                           "Private-Lines: 1\n" + rnd(B64, 44, 112) + "\n", "Private-MAC: " + rnd(HEX, 64, 113)),
                          "PuTTY-User-Key-File-3: see the docs"),
    "ethereum_private_key": (("PRIVATE_KEY=", "0x" + rnd(HEX, 64, 114), ""), "tx hash: 0x" + rnd(HEX, 64, 114)),
    "bitcoin_wif_private_key": (("import ", wif(115), ""), "import " + wif(115, corrupt=True)),
    "bip32_extended_private_key": (("xprv: ", xprv(116), ""), "xprv: " + xprv(116, corrupt=True)),
    "bip39_mnemonic": (('MNEMONIC="', mnemonic(117), '"'),
                       'MNEMONIC="' + " ".join(["test"] * 11 + ["junk"]) + '"'),
    "url_password": (("DATABASE_URL=postgres://app:", rnd(B62, 16, 118), "@db.internal:5432/app"),
                     "DATABASE_URL=postgresql://user:password@localhost:5432/mydb"),
    "basic_auth_password": (("curl -u admin:", rnd(B62, 14, 119), " https://api.example.com/v1"),
                            "curl -u admin:$ADMIN_PASSWORD https://api.example.com/v1"),
    "cli_password": (("sshpass -p ", rnd(B62, 14, 123), " ssh deploy@host"),
                     "mysql -u root -p mydb < dump.sql"),
    "netrc_password": (("machine api.example.com login bob password ", rnd(B62, 16, 120), ""),
                       "machine api.example.com login bob password changeme"),
    "http_auth_credential": (('curl -H "Authorization: Bearer ', rnd(B62, 40, 121), '" https://api.example.com'),
                             'curl -H "Authorization: Bearer $TOKEN" https://api.example.com'),
    "generic_secret": (("API_SECRET=", rnd(B62, 40, 122), ""), "SECRET_KEY=django-insecure-change-me"),
}


def test_at_least_forty_documented_kinds():
    assert len(KINDS) >= 40
    assert set(CASES) == set(KINDS), "every kind needs a positive and a negative case"
    for rule in rules.RULES:
        assert rule.kind in KINDS and len(rule.doc) > 30, rule.name


@pytest.mark.parametrize("kind", sorted(CASES))
def test_kind_positive(kind):
    (before, secret, after), _ = CASES[kind]
    text = before + secret + after
    found = detector().scan(text)
    want = (len(before), len(before) + len(secret))
    if kind == "putty_private_key":  # the block ends with the last private line
        assert [m.kind for m in found] == [kind] and found[0].start == 0
        assert found[0].end >= text.index("Private-MAC") - 1
        return
    assert [(m.kind, m.start, m.end) for m in found] == [(kind, *want)], found
    assert found[0].value == secret


@pytest.mark.parametrize("kind", sorted(CASES))
def test_kind_negative(kind):
    _, negative = CASES[kind]
    assert detector().scan(negative) == []


@pytest.mark.parametrize("kind", sorted(CASES))
def test_kind_found_in_a_sentence_and_not_glued_to_a_longer_word(kind):
    (before, secret, after), _ = CASES[kind]
    text = "notes\n" + before + secret + after + "\nmore notes"
    assert kind in {m.kind for m in detector().scan(text)}


def _load(name):
    path = CORPORA / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_corpus_recall_at_least_99_percent():
    records = _load("secrets_positive.jsonl")
    missed = [r["id"] for r in records
              if not any(m.start < r["end"] and m.end > r["start"] for m in detector().scan(r["text"]))]
    assert 1 - len(missed) / len(records) >= 0.99, missed


def test_corpus_false_hits_at_most_half_a_percent():
    records = _load("secrets_negative.jsonl")
    hits = [r["id"] for r in records if detector().scan(r["text"])]
    assert len(hits) / len(records) <= 0.005, hits


def test_vaulted_corpus_scans_clean():
    """Replacing every finding by its placeholder leaves nothing to find (the vault's loop)."""
    for r in _load("secrets_positive.jsonl"):
        text = r["text"]
        for m in reversed(detector().scan(text)):
            digest = hashlib.sha256(m.value.encode()).hexdigest()[:8]
            text = text[:m.start] + make_placeholder(m.kind, digest) + text[m.end:]
        assert detector().scan(text) == [], (r["id"], text)


def test_hashes_uuids_placeholders_and_images_are_not_secrets():
    r = random.Random(5)
    texts = []
    for i in range(50):
        blob = r.randbytes(64)
        texts += [
            hashlib.md5(blob).hexdigest() + "  file.tar.gz",
            "sha1sum " + hashlib.sha1(blob).hexdigest(),
            hashlib.sha256(blob).hexdigest() + "  wheel.whl",
            "--hash=sha256:" + hashlib.sha256(blob).hexdigest(),
            "git checkout " + hashlib.sha1(blob).hexdigest(),
            "docker pull ghcr.io/o/a@sha256:" + hashlib.sha256(blob).hexdigest(),
            "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode(),
            "request_id=" + str(uuid.UUID(bytes=blob[:16])),
            '<img src="data:image/png;base64,' + base64.b64encode(r.randbytes(300)).decode() + '">',
            "Sent 1 ETH to 0x" + hashlib.sha1(blob).hexdigest(),
        ]
    texts += ["OPENAI_API_KEY=", "api_key = os.environ['OPENAI_API_KEY']", "password: ${DB_PASSWORD}",
              "TOKEN=<token>", "secret: '****************'", "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
              "PASSWORD=changeme", "API_KEY=your-api-key-here", "token = get_token()", "AUTH_TOKEN=$AUTH",
              "client_secret = settings.CLIENT_SECRET", "password = 'xxxxxxxxxxxx'", "SECRET=example-secret-value",
              "api_key=dummy-api-key-0000", "postgres://user:<password>@db/app", "redis://:${REDIS_PASS}@cache:6379",
              "mysql://root:****@db/app", "token_ttl = 86400", "key = cache_key(user_id, 'profile')"]
    flagged = [(t, detector().scan(t)) for t in texts]
    assert [f for f in flagged if f[1]] == []


def test_placeholders_are_stable_tokens_and_never_flagged():
    ph = make_placeholder("openai_project_key", "3f9a1c2b")
    assert ph == "RG_SECRET_OPENAI_PROJECT_KEY_3f9a1c2b"
    m = PLACEHOLDER_RE.fullmatch(ph)
    assert m and m.group(1) == "OPENAI_PROJECT_KEY" and m.group(2) == "3f9a1c2b"
    for kind in KINDS:
        ph = make_placeholder(kind, "0123abcd")
        assert PLACEHOLDER_RE.fullmatch(ph)
        for text in (f"KEY={ph}", f'{{"api_key": "{ph}"}}', f"postgres://u:{ph}@db/x", f"password: {ph}",
                     f"Authorization: Bearer {ph}", f"--token {ph}", f"PRIVATE_KEY={ph}"):
            assert detector().scan(text) == [], text
    with pytest.raises(ValueError):
        make_placeholder("openai-key", "3f9a1c2b")
    with pytest.raises(ValueError):
        make_placeholder("jwt", "XYZ")


def test_offsets_are_character_offsets_in_non_ascii_text():
    secret = "gh" + "p_" + rnd(B62, 36, 200)
    text = "café ☕ 🔑 token: " + secret + " — ok"
    [m] = detector().scan(text)
    assert text[m.start:m.end] == secret == m.value


def test_overlaps_keep_the_longer_and_more_specific_match():
    token = "gh" + "p_" + rnd(B62, 36, 201)
    [m] = detector().scan('{"github_token": "' + token + '"}')  # generic and github: same span
    assert m.kind == "github_pat"
    key_id = "AK" + "IA" + rnd(B32, 16, 202)
    secret = rnd(B64, 40, 203)
    found = detector().scan(f"{key_id},{secret}\n")  # a key id and its secret, side by side
    assert [(m.kind, m.value) for m in found] == [("aws_access_key_id", key_id),
                                                  ("aws_secret_access_key", secret)]


@pytest.mark.parametrize("before,after", [
    ("docker login -u ci -p ", " registry.example.com"),
    ("mysql -u root -p", " app"),
    ("redis-cli -h cache -a ", " ping"),
])
def test_more_cli_password_forms(before, after):
    secret = rnd(B62, 14, 124)
    text = before + secret + after
    assert [(m.kind, m.value) for m in detector().scan(text)] == [("cli_password", secret)]


def test_allow_kinds_and_unknown_kinds():
    text = "GITHUB_TOKEN=gh" + "p_" + rnd(B62, 36, 204)
    assert SecretDetector(frozenset({"github_pat"})).scan(text) == []  # no generic fallback either
    assert [m.kind for m in SecretDetector().scan(text)] == ["github_pat"]
    with pytest.raises(ValueError):
        SecretDetector(frozenset({"no_such_kind"}))


def test_input_is_bounded():
    with pytest.raises(ValueError):
        detector().scan("a" * (MAX_SCAN + 1))
    with pytest.raises(TypeError):
        detector().scan(b"bytes")  # type: ignore[arg-type]
    assert detector().scan("") == []


def test_several_secrets_in_one_text_sorted_and_disjoint():
    parts = []
    for i, kind in enumerate(sorted(CASES)):
        before, secret, after = CASES[kind][0]
        parts.append(f"# {i}\n{before}{secret}{after}\n")
    text = "".join(parts)
    found = detector().scan(text)
    assert {m.kind for m in found} >= set(KINDS) - {"putty_private_key"}
    assert all(a.end <= b.start for a, b in zip(found, found[1:]))


@pytest.mark.parametrize("text", [
    "ghp_" * 200_000,
    "a " * 400_000,
    ("-----BEGIN RSA PRIVATE" + " KEY-----\n") * 20_000,
    "x=" * 300_000,
    "AK" + "IA" * 300_000,
    "0" * 700_000,
    "://a:b@" * 100_000,
    ("abandon " * 11 + "about\n") * 20_000,
    "eyJ" + "a" * 300_000 + ".eyJ" + "b" * 300_000,
    "password=" + "Ab1" * 200_000,
])
def test_adversarial_input_scans_in_linear_time(text):
    start = time.perf_counter()
    found = detector().scan(text)
    assert time.perf_counter() - start < 10, "scan took too long"
    assert all(a.end <= b.start for a, b in zip(found, found[1:]))


SECRETISH = st.sampled_from([
    "sk-", "proj-", "ghp_", "AKIA", "xoxb-", "eyJ", ".", "-----BEGIN ", "PRIVATE KEY-----", "-----END ",
    "://", ":", "@", "=", "\"", "'", " ", "\n", "password", "token", "0x", "abandon ", "RG_SECRET_",
    "é", "☕", "\x00", "\ud800",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(SECRETISH, st.text(min_size=1, max_size=40),
                          st.text(alphabet=B62 + "_-+/=", min_size=10, max_size=120)), max_size=40))
def test_random_text_never_raises_and_matches_are_sane(parts):
    text = "".join(parts)
    found = detector().scan(text)
    assert all(isinstance(m, SecretMatch) and m.kind in KINDS for m in found)
    assert all(0 <= m.start < m.end <= len(text) and m.value == text[m.start:m.end] for m in found)
    assert all(a.end <= b.start for a, b in zip(found, found[1:]))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(CASES)), st.text(max_size=30), st.text(max_size=30))
def test_known_secret_survives_random_surroundings(kind, left, right):
    before, secret, after = CASES[kind][0]
    text = left + "\n" + before + secret + after + "\n" + right
    found = detector().scan(text)
    assert any(m.start <= text.index(secret) < m.end for m in found), (kind, found)


# ---- relayguard secrets scan ------------------------------------------------------------------


def _run(monkeypatch, path=None, stdin=None):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", stdin)
    rc = scan.run_scan(path if path is not None else "-")
    return rc, [json.loads(line) for line in out.getvalue().splitlines()]


def _lines_text():
    token = "gh" + "p_" + rnd(B62, 36, 300)
    key = pem("RSA PRIVATE" + " KEY", 301)
    lines = ["first line, nothing here", "export GITHUB_TOKEN=" + token, "", "café ☕ " + token] + key.split("\n")
    return lines, token


def _check_lines(records, lines, token):
    assert [r["line"] for r in records] == list(range(1, len(lines) + 1))
    assert records[0]["findings"] == []
    assert records[1]["findings"] == [{"kind": "github_pat", "start": 20, "end": 60}]
    assert records[2]["findings"] == []
    assert records[3]["findings"] == [{"kind": "github_pat", "start": 7, "end": 47}]
    for rec, line in zip(records[4:], lines[4:]):  # the key block: every line, whole
        assert rec["findings"] == [{"kind": "pem_rsa_private_key", "start": 0, "end": len(line)}]


def test_run_scan_file(tmp_path, monkeypatch):
    lines, token = _lines_text()
    path = tmp_path / "in.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc, records = _run(monkeypatch, str(path))
    assert rc == 0
    _check_lines(records, lines, token)
    assert token not in json.dumps(records)


def test_run_scan_stdin_binary_and_text(monkeypatch):
    lines, token = _lines_text()
    data = "\r\n".join(lines)  # CRLF and no final line break
    rc, records = _run(monkeypatch, stdin=io.TextIOWrapper(io.BytesIO(data.encode("utf-8")), encoding="utf-8"))
    assert rc == 0
    _check_lines(records, lines, token)
    rc, records = _run(monkeypatch, stdin=io.StringIO("\n".join(lines) + "\n"))
    _check_lines(records, lines, token)


def test_run_scan_empty_input_and_missing_file(tmp_path, monkeypatch, capsys):
    rc, records = _run(monkeypatch, stdin=io.StringIO(""))
    assert rc == 0 and records == []
    monkeypatch.undo()
    assert scan.run_scan(str(tmp_path / "missing.txt")) == 2


def test_run_scan_batches_and_long_lines_match_one_shot(tmp_path, monkeypatch):
    records = _load("secrets_positive.jsonl")
    lines = []
    for r in records:
        lines += ["filler line " * 3] + r["text"].split("\n")
    lines.append("x" * 5000 + " GITHUB_TOKEN=gh" + "p_" + rnd(B62, 36, 302) + " " + "y" * 5000)
    path = tmp_path / "many.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, expected = _run(monkeypatch, str(path))
    monkeypatch.setattr(scan, "BATCH", 9000)  # many batches; the tail holds the longest key block
    monkeypatch.setattr(scan, "TAIL", 4000)
    monkeypatch.setattr(scan, "MAX_LINE", 1500)  # the last line is read in pieces
    _, small = _run(monkeypatch, str(path))
    assert len(small) == len(expected) == len(lines)
    assert small[:-1] == expected[:-1]
    last = small[-1]["findings"]
    assert [(f["kind"], f["start"], f["end"]) for f in last] == [("github_pat", 5014, 5054)]


def test_detector_singleton_and_compiled_once():
    assert detector() is detector()
    assert detect._compiled() is detect._compiled()
