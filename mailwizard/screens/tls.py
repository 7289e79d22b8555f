"""TLS for Dovecot (guide 1.1.2): certificate, key, CA, Diffie-Hellman parameters, self-signed."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Input, Label, RadioSet, Static

from mailwizard.answers import ACME_DIRECTORY, Problem, acme_paths
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import Choice, Field, FieldMessages, Tick, TickField

HELP = """\
Dovecot encrypts IMAP and POP3 with TLS (guide 1.1.2 *Configuring TLS
encryption on a Dovecot server*).

**Certificate** (`tls.cert`), **Private key** (`tls.key`), **CA certificate**
(`tls.ca`, optional): absolute paths of files already copied to this server,
for example `/etc/pki/dovecot/certs/server.example.com.crt`. They are checked
before anything changes: the files exist, the key matches the certificate,
the certificate names this host's FQDN and has not expired. The key is set
to 0600 root:root (`chown root:root`, `chmod 600`), and `10-ssl.conf` gets
`ssl_cert = <...`, `ssl_key = <...`, `ssl_ca = <...`, `ssl_dh = <...`
(the `<` makes Dovecot read the file) and `ssl_min_protocol = TLSv1.2`.

**Diffie-Hellman parameters** (`tls.dh`):

- *ffdhe4096* (recommended): the RFC 7919 group, written to
  `/etc/dovecot/dh.pem` at once.
- *generate*: `openssl dhparam -out /etc/dovecot/dh.pem 4096`, as the guide
  says; it takes minutes (200 to 400 s on a small server).
- *custom file*: parameters you already have.

**Self-signed certificate** (`tls.self_signed`): creates a new key and a
certificate for the host name at the paths above. For a test box or a first
start only: mail clients warn about it until you install a certificate from a
CA at the same paths.

**ACME CA** (`tls.acme`, `tls.acme_email`, `tls.acme_server`): certbot
obtains a certificate for the host name from an ACME CA (Let's Encrypt's
production directory unless you give another) and renews it on its own.
The CA checks this host by HTTP on port 80 (certbot answers it; the
firewall's `http` service is opened), so the host name must resolve to this
server from the internet. Dovecot and Postfix use
`/etc/letsencrypt/live/HOSTNAME/fullchain.pem` and `privkey.pem`, and a
deploy hook reloads them after each renewal. The e-mail address receives
the CA's notices (expiry, revocation). Not together with a self-signed
certificate.
"""

DH_LABELS = {
    "ffdhe4096": "ffdhe4096 (RFC 7919, instant — recommended)",
    "generate": "generate 4096-bit (takes minutes)",
    "custom": "custom file:",
}


class TLSScreen(FormScreen):
    KEY = "tls"
    HEADING = "TLS for Dovecot"
    HELP = HELP

    def compose_body(self) -> ComposeResult:
        tls = self.session.answers.tls
        # first: on a fresh host (no certificate yet) the choice to make before the paths
        hostname = self.session.answers.server.hostname or "this host"
        yield Tick(f"Create a self-signed certificate for {hostname} "
                   "(test/first start only — clients will warn)",
                   tls.self_signed, id="tls-self-signed")
        yield Field("tls.cert", "Certificate", tls.cert, placeholder="/etc/pki/dovecot/certs/server.example.com.crt")
        yield Field("tls.key", "Private key", tls.key, placeholder="/etc/pki/dovecot/private/server.example.com.key")
        yield Field("tls.ca", "CA (optional)", tls.ca, placeholder="empty: no CA certificate")
        choice = tls.dh if tls.dh in ("ffdhe4096", "generate") else "custom"
        with Vertical(id="dh-group"):
            with Horizontal(id="dh-row"):
                yield Label("DH parameters", id="dh-label")
                with RadioSet(id="tls-dh-choice"):
                    for value, label in DH_LABELS.items():
                        yield Choice(label, value=value == choice, id=f"dh-{value}")
            yield Input(tls.dh if choice == "custom" else "", id="tls-dh", compact=True,
                        placeholder="/etc/dovecot/dh.pem", classes="" if choice == "custom" else "-hidden")
            yield FieldMessages(id="tls-dh-messages")
            yield Static(self.wizard.dh_status, id="tls-dh-status")
        hostname = self.session.answers.server.hostname or "this host"
        yield TickField("tls.acme", "ACME CA", f"Obtain a certificate for {hostname} from an ACME CA with "
                        "certbot, renewed on its own (HTTP on port 80)", tls.acme)
        with Vertical(id="tls-acme-fields"):
            yield Field("tls.acme_email", "ACME e-mail", tls.acme_email, placeholder="postmaster@example.com")
            yield Field("tls.acme_server", "ACME directory", tls.acme_server, placeholder=ACME_DIRECTORY)

    def on_mount(self) -> None:
        super().on_mount()
        self._own_paths: dict[str, str] = {}  # the certificate paths typed before ACME was chosen
        tls = self.session.answers.tls
        self.query_one("#tls-acme-fields").display = tls.acme
        for key in ("cert", "key"):
            self.query_one(f"#field-tls-{key}", Field).input.disabled = tls.acme
        if tls.acme:
            self.query_one("#tls-acme").focus()
        elif not tls.self_signed and tls.cert and not self.session.host.exists(tls.cert):
            # no certificate yet (a fresh host): the choice to make first is a self-signed one
            self.query_one("#tls-self-signed").focus()
        else:
            self.query_one("#tls-cert").focus()

    @on(Checkbox.Changed, "#tls-self-signed")
    def _self_signed_changed(self) -> None:
        """Ticked, the certificate is made at those paths (or, with ACME, certbot's): their "does not exist"
        goes at once, and the messages are those of the paths now shown."""
        if self.is_current and not self._leaving:
            self._collect()
            self.check(advance=False)

    def dh_choice(self) -> str:
        pressed = self.query_one("#tls-dh-choice", RadioSet).pressed_button
        return (pressed.id or "dh-ffdhe4096").removeprefix("dh-") if pressed else "ffdhe4096"

    @on(RadioSet.Changed, "#tls-dh-choice")
    def _dh_changed(self) -> None:
        choice = self.dh_choice()
        self.query_one("#tls-dh", Input).set_class(choice != "custom", "-hidden")
        if choice == "generate" and not self.wizard.start_dh_generation():
            self.show_dh_status("openssl dhparam runs during apply" if not self.session.dry_run
                                else "a real run generates them during apply")

    @on(Checkbox.Changed, "#tls-acme")
    def _acme_changed(self, event: Checkbox.Changed) -> None:
        self.query_one("#tls-acme-fields").display = event.value
        for key, path in zip(("cert", "key"), acme_paths(self.session.answers.server.hostname)):
            field = self.query_one(f"#field-tls-{key}", Field)
            if event.value:
                self._own_paths[key] = field.input.value
            field.input.value = path if event.value else self._own_paths.get(key, field.input.value)
            field.input.disabled = event.value
        self._self_signed_changed()  # the paths changed: their messages are those of the new paths

    def show_dh_status(self, line: str) -> None:
        self.query_one("#tls-dh-status", Static).update(line)

    def collect(self) -> None:
        tls = self.session.answers.tls
        tls.cert = self.query_one("#field-tls-cert", Field).value
        tls.key = self.query_one("#field-tls-key", Field).value
        tls.ca = self.query_one("#field-tls-ca", Field).value
        choice = self.dh_choice()
        tls.dh = self.query_one("#tls-dh", Input).value.strip() if choice == "custom" else choice
        tls.self_signed = self.query_one("#tls-self-signed", Tick).value
        tls.acme = self.query_one("#field-tls-acme", TickField).value
        tls.acme_email = self.query_one("#field-tls-acme_email", Field).value
        tls.acme_server = self.query_one("#field-tls-acme_server", Field).value
        if tls.acme:  # certbot's files, whatever the fields held
            tls.cert, tls.key = acme_paths(self.session.answers.server.hostname)

    def show_problems(self, problems: list[Problem]) -> None:
        super().show_problems(problems)
        shown = {f.key for f in self.fields()}
        rest = [p for p in problems if p.key not in shown]
        self.query_one("#tls-dh-messages", FieldMessages).show(rest)
        self.query_one("#tls-dh", Input).set_class(
            any(p.key == "tls.dh" and p.severity == "error" for p in rest), "-invalid")
