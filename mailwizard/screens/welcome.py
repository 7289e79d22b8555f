"""Welcome and preflight (guide 2.1, prerequisites): the platform, the mode, host name and domain."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mailwizard.answers import Problem
from mailwizard.existing import host_identity
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import Field, ProblemList

HELP = """\
mailwizard sets up Postfix and Dovecot by the procedures of the RHEL 10 guide
*Deploying mail servers*. Nothing on this host changes until you confirm
**Apply** on the Review screen; with `--dry-run` the wizard ends at Review.

**Host name** (`server.hostname`): the server's fully-qualified domain name,
for example `mail.example.com`. It must be the name the host itself reports
(set it with `hostnamectl set-hostname`), and the name in the TLS certificate.

**Mail domain** (`server.domain`): the domain of the mail addresses, for
example `example.com`. Postfix uses it for `mydomain` and `myorigin`.

Both start as this host gives them: the host name from `hostname -f`, the
mail domain from `/etc/mailname` (when it names a domain other than the host
name), else the host name without its first label.

**Start**: on a host whose Postfix or Dovecot is already configured (and
without `--answers`), every screen starts from the settings in place
(`postconf -n`, `doveconf -n`), so a re-run changes only what you change.
Passwords written into configuration files are not taken: type them again.

**Preflight** (guide 2.1, prerequisites and step 1) checks this host: a
supported platform and Dovecot 2.3, the host name, that ports 25, 110, 143,
993 and 995 are free or held by Postfix/Dovecot, free disk space under /var,
and configuration made by hand. Sendmail, if installed, is removed (step 1).
An ERROR keeps you on this screen until it is fixed; a WARNING does not.

**Keys**: `ctrl+n` Next, `Esc` Back, `F1` or `?` this help, `Tab` next field,
`ctrl+q` quit.
"""


PREFILLED_NOTE = "prefilled from this host's current configuration"


class WelcomeScreen(FormScreen):
    KEY = "welcome"
    HEADING = "Welcome to mailwizard: Postfix + Dovecot, step by step"
    HELP = HELP

    def compose_body(self) -> ComposeResult:
        session = self.session
        about = Text("A secure mail server by the guide \"Deploying mail servers\". You see every "
                     "change on the Review screen before anything is done.\n\n")
        about.append("Platform  ", style="bold")
        about.append(session.profile.label)
        about.append("\nMode      ", style="bold")
        if session.dry_run:
            about.append("dry run: nothing will be changed", style="bold green")
            if session.offline:
                about.append(" (facts of a fresh install)")
        else:
            about.append("changes this host after you review and confirm them")
        if session.prefilled:
            about.append("\nStart     ", style="bold")
            about.append(f"{PREFILLED_NOTE} ({len(session.prefilled)} settings)")
        server = session.answers.server
        given = {"server.hostname": server.hostname, "server.domain": server.domain}
        sources = [f"{key.split('.')[1].replace('hostname', 'host name').replace('domain', 'mail domain')} "
                   f"from {source}" for key, (value, source) in host_identity(session.host).items()
                   if given[key] == value]
        if sources:
            about.append("\nNames     ", style="bold")
            about.append("; ".join(sources) + " (change them here if they are not right)")
        yield Static(about, id="about")
        yield Field("server.hostname", "Host name", server.hostname, placeholder="mail.example.com")
        yield Field("server.domain", "Mail domain", server.domain, placeholder="example.com")
        yield Static("Preflight", classes="section")
        yield ProblemList(id="preflight")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#preflight", ProblemList).update("Checking this host...")
        self.query_one("#server-hostname").focus()

    def collect(self) -> None:
        server = self.session.answers.server
        server.hostname = self.query_one("#field-server-hostname", Field).value.lower().rstrip(".")
        server.domain = self.query_one("#field-server-domain", Field).value.lower().rstrip(".")

    def show_problems(self, problems: list[Problem]) -> None:
        super().show_problems(problems)
        shown = {f.key for f in self.fields()}
        rest = [p for p in problems if p.key not in shown]
        preflight = self.query_one("#preflight", ProblemList)
        if self.session.offline:
            preflight.show(rest, empty="planning for another platform: this host is not checked; "
                                       "the target is, when the wizard runs there", mark="NOTE")
        else:
            preflight.show(rest, empty="platform, Dovecot version, ports, disk space, existing configuration")
