"""Issue 7 at the form fields: hostile values typed (or pasted) into every text field of every screen.

For each screen, hypothesis draws a few values per displayed field (derandomized, so CI
sees the same ones): arbitrary text, very long values, control characters, quotes,
Dovecot %-variables, $ and shell metacharacters, near-misses of the field's own value.
After Next, either the screen stays and the field shows an error, or the screen moves
on and the answers hold exactly what was in the field (stripped, split into words, or
read as a number, as the field documents), and the session still plans without an
exception. An exception anywhere fails the test: app.run_test re-raises it.

Issue 13: the answers-file matrix's sharpest path, address and number cases (test_fuzz_answers.py) are
typed into every field of their kind, on a host with the same FIFOs, devices and links; the cases a kind
must refuse are refused with an error at the field.
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
SCREENS = [("welcome", "pam.toml"), ("tls", "pam.toml"), ("vmail", "pam.toml"), ("auth", "full.toml"),
           ("auth_pam", "full.toml"), ("auth_ldap", "ldap-search.toml"), ("auth_ldap", "ldap.toml"),
           ("auth_sql", "sql.toml"), ("lmtp", "full.toml"), ("sieve", "full.toml"), ("replication", "full.toml"),
           ("postfix", "full.toml"), ("postfix", "null-client.toml"), ("postfix_tls", "full.toml"),
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
    for counts, what in ((COUNTS, "form-field fuzz"), (MATRIX, "form-field matrix (issue 13)")):
        if counts and reporter is not None:
            reporter.write_line("")
            reporter.write_line(f"{what}: {sum(counts.values())} values over {len(counts)} fields:")
            for key, n in sorted(counts.items()):
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


async def try_fields(tmp_path, screen: str, answers_file: str, cases, counts: collections.Counter,
                     special_paths: bool = False, some: bool = True) -> None:
    """Type every case of `cases(key, value shown)` -- (text, True when the field must refuse it, or None when
    it may refuse or keep it) -- into each text field of `screen` that has cases, pressing Next after each:
    refused with an error at the field, or kept in the answers as the field documents (and planned).
    `some`: the screen must have at least one such field."""
    session = make_session(tmp_path, answers=answers_file)
    prepare(session)
    if special_paths:
        _matrix_kinds().make_special_paths(session.host)
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
        fields = [f for f in form.query(Field)
                  if f.query(Input) and displayed(f) and not f.key.startswith(NOT_ANSWERS)]
        tried = 0
        for field in fields:
            key = field.key
            keep, current = field.input.value, answer(session, key)
            for value, refuse in cases(key, keep):
                moved.clear()
                await enter(pilot, field, value)
                await pilot.press("ctrl+n")
                await settle(pilot)
                counts[key] += 1
                tried += 1
                assert app.screen is form
                shown = text_of(field.query_one(FieldMessages))
                if refuse:
                    assert not moved and "error" in shown, f"{key}={value!r} accepted (field says {shown!r})"
                if not moved:
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
        assert tried or not some, f"{screen} shows no text field to try"


async def fuzz_screen(tmp_path, screen: str, answers_file: str, data) -> None:
    def drawn(key: str, keep: str) -> list[tuple[str, None]]:
        values = data.draw(st.lists(hostile(keep), min_size=PER_FIELD, max_size=PER_FIELD), label=key)
        return [(v, None) for v in values]

    await try_fields(tmp_path, screen, answers_file, drawn, COUNTS)


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


# --- issue 13: the answers-file matrix's sharpest cases, typed at every field of their kind ------------------

def _matrix_kinds():
    import test_fuzz_answers as F  # the kinds and the cases are the answers-file matrix's, kept in one place

    return F


def matrix_cases(key: str) -> list[tuple[str, bool]]:
    """(text typed, whether the field must refuse it) for a field of a path, address or number key."""
    F = _matrix_kinds()
    if key in F.PATH_KIND:
        kind = F.PATH_KIND[key]
        picked = ["//etc", "relative/x.pem", "/srv/special/fifo", "/dev/zero", "/srv/special/etc-link",
                  "/srv/special/big", "/srv/x\u202e", "/srv/special/dangling"]
        return [(v, kind in refusers) for v, refusers in F.PATH_MATRIX if v in picked]
    if key in F.ADDRESS_KIND:
        kind = F.ADDRESS_KIND[key]
        picked = ["fe80::1%eth0", "fe80::1%\x1b[31m", "[::1", "::ffff:192.0.2.1", "0.0.0.0/0", "192.0.2.01",
                  "2001:db8::/129"]
        prefix = "ldap://" if key == "auth.ldap.uris" else ""
        return [(prefix + v, kind in refusers) for v, refusers in F.ADDRESS_MATRIX if v in picked]
    if key in F.NUMBER_RANGE:
        low, high = F.NUMBER_RANGE[key]
        return [("-1", True), ("1.5", True), ("0x18", True), (str(2**64), True), (str(low - 1), True),
                (str(high + 1), True), (str(low), False)]
    return []


MATRIX = collections.Counter()


MATRIX_SCREENS = [s for s in SCREENS if s[0] != "welcome"]


@pytest.mark.parametrize("screen, answers_file", MATRIX_SCREENS)
def test_form_fields_refuse_the_matrix_cases_at_the_field(tmp_path, screen, answers_file):
    """Paths (a FIFO, /dev/zero, a link to /etc, a 2 MiB file, //etc, relative, bidi), addresses (zone
    indexes, IPv4-mapped, an unclosed bracket, /0, 192.0.2.01, a bad prefix) and numbers out of their range,
    typed where the screens ask for them: refused with an error at the field (or, where the kind allows it,
    kept as the answers-file matrix keeps it). No hang, no exception."""
    import asyncio

    asyncio.run(try_fields(tmp_path, screen, answers_file, lambda key, _keep: matrix_cases(key), MATRIX,
                           special_paths=True, some=False))
