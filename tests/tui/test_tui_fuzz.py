"""Issue 7 at the form fields: hostile values typed (or pasted) into every text field of every screen.

For each screen, hypothesis draws a few values per displayed field (derandomized, so CI
sees the same ones): arbitrary text, very long values, control characters, quotes,
Dovecot %-variables, $ and shell metacharacters, near-misses of the field's own value.
After Next, either the screen stays and the field shows an error, or the screen moves
on and the answers hold exactly what was in the field (stripped, split into words, or
read as a number, as the field documents), and the session still plans without an
exception. An exception anywhere fails the test: app.run_test re-raises it.
"""

from __future__ import annotations

import collections

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from textual.widgets import Input

from mailwizard.answers import PATH_KEYS, normalise_path
from mailwizard.app import create_app, make_screen
from mailwizard.screens.base import displayed
from mailwizard.widgets import Field, FieldMessages
from support import cached_cert
from tui_support import make_session, replace_input, settle, text_of

SIZE = (80, 24)
PER_FIELD = 8  # Pilot is slow (a Next with its check is about a second on a loaded 2-core machine)

# (screen key, reference answers) for every screen with text fields
SCREENS = [("welcome", "pam.toml"), ("tls", "pam.toml"), ("mailstore", "pam.toml"), ("auth", "full.toml"),
           ("auth_pam", "full.toml"), ("auth_ldap", "ldap-search.toml"), ("auth_ldap", "ldap.toml"),
           ("auth_sql", "sql.toml"), ("lmtp", "full.toml"), ("sieve", "full.toml"), ("replication", "full.toml"),
           ("postfix_mode", "full.toml"), ("postfix_mode", "null-client.toml"), ("postfix_tls", "full.toml"),
           ("postfix_aliases", "ldap.toml"), ("postfix_delivery", "full.toml"), ("postfix_limits", "full.toml")]

# fields whose value the screen does not keep in the answers (a test login for Test connection)
NOT_ANSWERS = ("test.",)

SECRET_FILES = {"/root/dovecot-ldap.pass": "ldap-secret\n", "/root/dovecot-sql.pass": "sql-secret\n"}
CA_FILES = ("/etc/pki/tls/certs/ca.crt", "/etc/pki/dovecot/certs/ca.crt")

FRAGMENTS = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", '"', "'", "\\", "%u", "%{user}", "%n", "$", "$mydomain",
             "${x}", "$(id)", "`id`", ";", "|", "&", ">", "<", "#", " # x", "{", "}", "=", ",", " ", "*",
             "!include /etc/passwd", "\n}\nx = y", "ä", "\U0001f642", "-o", "x" * 300,
             "/", "//", "/./", "/../", "..", "/etc", "\u202e", "\u2066", "%eth0"]


def hostile(base: str) -> st.SearchStrategy[str]:
    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=25)
    near = st.builds(lambda at, piece: base[:at % (len(base) + 1)] + piece + base[at % (len(base) + 1):],
                     st.integers(0, 200), st.one_of(st.sampled_from(FRAGMENTS), text))
    return st.one_of(near, near, text, st.sampled_from(FRAGMENTS),
                     st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.just(base), text), max_size=5).map("".join),
                     st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=5), st.integers(50, 300)))


COUNTS: collections.Counter = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def report_counts(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if COUNTS and reporter is not None:
        reporter.write_line("")
        reporter.write_line(f"form-field fuzz: {sum(COUNTS.values())} values over {len(COUNTS)} fields:")
        for key, n in sorted(COUNTS.items()):
            reporter.write_line(f"  {key:48} {n:3}")


def prepare(session) -> None:
    """The files the reference answers name (secrets, CAs), and Postfix's own certificate for its TLS form."""
    host = session.host
    key, cert = cached_cert(session.answers.server.hostname)
    for path, data in (("/etc/pki/tls/certs/postfix.crt", cert), ("/etc/pki/tls/private/postfix.key", key)):
        real = host.real(path)
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_bytes(data)
        real.chmod(0o600)
    session.answers.postfix.tls_cert = "/etc/pki/tls/certs/postfix.crt"
    session.answers.postfix.tls_key = "/etc/pki/tls/private/postfix.key"
    for path, text in SECRET_FILES.items():
        real = host.real(path)
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_text(text)
        real.chmod(0o600)
    for path in CA_FILES:
        real = host.real(path)
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_text("-----BEGIN CERTIFICATE-----\n")


def answer(session, key: str):
    node = session.answers
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part)
    return node


def expected(field: Field, value: str, current):
    """What the answers must hold when `value` in `field` is accepted."""
    text = value if field.password else value.strip()
    if field.key in PATH_KEYS:
        return normalise_path(text)  # //etc, /srv/../etc and /var/mail/ are kept as used (issue 13)
    if field.key.startswith("postfix.limits.") and not text:
        return None  # an empty limit is Postfix's default: the key leaves the answers
    if isinstance(current, list):
        return text.replace(",", " ").split()
    if isinstance(current, bool):
        return current
    if isinstance(current, int) or (current is None and text.lstrip("-").isdigit()):
        return int(text)
    return text


async def enter(pilot, field: Field, value: str) -> None:
    """Type `value` when a keyboard could (short, printable), else paste it (set the Input's value)."""
    if 0 < len(value) <= 20 and value.isprintable() and value == value.strip():
        await replace_input(pilot, f"#{field.input.id}", value)
    else:
        field.input.value = value
        field.input.focus()
    await pilot.pause()


async def fuzz_screen(tmp_path, screen: str, answers_file: str, data) -> None:
    session = make_session(tmp_path, answers=answers_file)
    prepare(session)
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = make_screen(screen)
        # Next on a form without errors moves on; here it is recorded instead, so that every value is
        # tried on the same screen (the navigation itself is test_tui_wizard's)
        moved: list[bool] = []
        form.leave = lambda forward: moved.append(forward)
        app.switch_screen(form)
        await settle(pilot)
        keys = [f.key for f in form.query(Field)
                if f.query(Input) and displayed(f) and not f.key.startswith(NOT_ANSWERS)]
        assert keys, f"{screen} shows no text field"
        for key in keys:
            field = form.query_one(f"#field-{key.replace('.', '-')}", Field)
            keep, current = field.input.value, answer(session, key)
            for value in data.draw(st.lists(hostile(keep), min_size=PER_FIELD, max_size=PER_FIELD), label=key):
                moved.clear()
                await enter(pilot, field, value)
                await pilot.press("ctrl+n")
                await settle(pilot)
                COUNTS[key] += 1
                assert app.screen is form
                if not moved:
                    shown = text_of(field.query_one(FieldMessages))
                    assert "error" in shown, f"{key}={value!r}: refused without an error at the field " \
                                             f"(its messages: {shown!r})"
                    continue
                held = answer(session, key)
                assert held == expected(field, value, current), f"{key}={value!r} was kept as {held!r}"
                session.plan()  # the accepted answers plan without an exception
            field.input.value = keep  # the next field starts from a valid form
            moved.clear()
            await pilot.press("ctrl+n")
            await settle(pilot)
            assert moved, f"{screen}: the reference value {keep!r} of {key} is refused again"


@pytest.mark.parametrize("screen, answers_file", SCREENS)
def test_form_fields_refuse_or_keep_hostile_values(tmp_path, screen, answers_file):
    import asyncio

    runs = iter(range(10**6))

    @settings(max_examples=1, derandomize=True, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        asyncio.run(fuzz_screen(tmp_path / f"run{next(runs)}", screen, answers_file, data))

    run()
