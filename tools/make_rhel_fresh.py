#!/usr/bin/env python3
"""Generate the RHEL 9 and RHEL 10 fresh-install fixtures from Debian 12's files.

    python3 tools/make_rhel_fresh.py            # (re)write rhel9/ and rhel10/
    python3 tools/make_rhel_fresh.py --check    # exit 1 if the committed trees differ
    python3 tools/make_rhel_fresh.py --out DIR  # write DIR/rhel9, DIR/rhel10 instead

Inputs, all Debian 12 package files:

* the committed ``mailwizard/platforms/fresh/debian12`` tree (Dovecot and
  Pigeonhole's example configuration as dovecot-core & co. install it);
* ``/usr/share/dovecot/conf.d/10-metrics.conf`` (dovecot-core) and
  ``/usr/share/dovecot/conf.d/20-submission.conf`` (dovecot-submissiond);
* ``/usr/share/postfix/main.cf.dist`` and ``master.cf.dist`` (postfix).

A package file is read from this machine when the package is installed at
the version below; otherwise the ``.deb`` is fetched with ``apt-get download``
into a temporary directory and unpacked there (nothing is installed).

Every change from those files to the RHEL ones is a small edit below,
written from the facts listed in ``mailwizard/platforms/fresh/SOURCES.md``:
first Debian's own changes are undone (giving upstream's text of the same
version), then upstream's text is moved to the version RHEL ships where it
differs, then RHEL's packaging changes are applied. Each edit insists on
finding its anchor exactly the expected number of times, so a changed input
stops the run instead of producing a silently different file. Only the
``etc/`` trees are written; each platform's ``facts.toml`` is left alone.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRESH = ROOT / "mailwizard" / "platforms" / "fresh"
DEBIAN12 = FRESH / "debian12"

# The Debian 12 builds the debian12 fixture was copied from.
DEB_VERSIONS = {
    "dovecot-core": "1:2.3.19.1+dfsg1-2.1+deb12u7",
    "dovecot-submissiond": "1:2.3.19.1+dfsg1-2.1+deb12u7",
    "postfix": "3.7.11-0+deb12u1",
}


class EditError(RuntimeError):
    pass


# --------------------------------------------------------------------------
# Reading Debian package files


class DebianFiles:
    """Files of Debian packages: from this machine, or from an unpacked .deb."""

    def __init__(self) -> None:
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._unpacked: dict[str, Path] = {}

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    @staticmethod
    def _installed_version(package: str) -> str | None:
        try:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f", "${Status}\t${Version}", package],
                capture_output=True, text=True, check=False,
            )
        except FileNotFoundError:
            return None
        if out.returncode != 0:
            return None
        status, _, version = out.stdout.partition("\t")
        return version if status.endswith(" installed") else None

    def _unpack(self, package: str) -> Path:
        if package in self._unpacked:
            return self._unpacked[package]
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="make_rhel_fresh-")
        work = Path(self._tmp.name) / package
        work.mkdir()
        version = DEB_VERSIONS[package]
        for spec in (f"{package}={version}", package):
            got = subprocess.run(["apt-get", "download", spec], cwd=work,
                                 capture_output=True, text=True, check=False)
            debs = list(work.glob("*.deb"))
            if got.returncode == 0 and debs:
                break
            if spec == package:
                raise SystemExit(f"cannot get {package}: {got.stderr.strip()}\n"
                                 f"(run 'apt-get update', or install {package})")
            print(f"note: {spec} not downloadable, using the candidate version",
                  file=sys.stderr)
        root = work / "root"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True)
        self._unpacked[package] = root
        return root

    def read(self, package: str, path: str) -> str:
        if self._installed_version(package) == DEB_VERSIONS[package] and Path(path).is_file():
            return Path(path).read_text()
        return (self._unpack(package) / path.lstrip("/")).read_text()


# --------------------------------------------------------------------------
# Edit primitives


def replace(text: str, old: str, new: str, *, count: int = 1, what: str = "") -> str:
    """Replace `old` by `new`; `old` must occur exactly `count` times."""
    found = text.count(old)
    if found != count:
        raise EditError(f"{what}: expected {count} x {old!r}, found {found}")
    return text.replace(old, new)


def insert_after(text: str, anchor: str, block: str, *, what: str = "") -> str:
    return replace(text, anchor, anchor + block, what=what)


def delete(text: str, old: str, *, what: str = "") -> str:
    return replace(text, old, "", what=what)


def sed_first_per_line(text: str, pattern: str, repl: str) -> str:
    """`sed 's|pattern|repl|'`: the first match on each line."""
    return "".join(re.sub(pattern, repl, line, count=1)
                   for line in text.splitlines(keepends=True))


def postconf_e(text: str, settings: list[tuple[str, str]]) -> str:
    """What `postconf -e name=value ...` does to main.cf: rewrite the
    parameter's line (with any continuation lines) in place, or append it."""
    lines = text.splitlines(keepends=True)
    for name, value in settings:
        new = f"{name} = {value}\n"
        head = re.compile(rf"^{re.escape(name)}\s*=")
        for i, line in enumerate(lines):
            if head.match(line):
                end = i + 1
                while end < len(lines) and lines[end][:1] in (" ", "\t"):
                    end += 1
                lines[i:end] = [new]
                break
        else:
            lines.append(new)
    return "".join(lines)


# --------------------------------------------------------------------------
# Dovecot

# conf.d files RHEL installs into /etc/dovecot/conf.d (dovecot + dovecot-pigeonhole).
RHEL_DOVECOT_CONF_D = [
    "10-auth.conf", "10-director.conf", "10-logging.conf", "10-mail.conf",
    "10-master.conf", "10-metrics.conf", "10-ssl.conf", "15-lda.conf",
    "15-mailboxes.conf", "20-imap.conf", "20-lmtp.conf", "20-pop3.conf",
    "20-submission.conf", "90-acl.conf", "90-plugin.conf", "90-quota.conf",
    "auth-checkpassword.conf.ext", "auth-deny.conf.ext", "auth-dict.conf.ext",
    "auth-ldap.conf.ext", "auth-master.conf.ext", "auth-passwdfile.conf.ext",
    "auth-sql.conf.ext", "auth-static.conf.ext", "auth-system.conf.ext",
    # Pigeonhole
    "20-managesieve.conf", "90-sieve.conf", "90-sieve-extprograms.conf",
]

# conf.d files that the debian12 fixture lacks: package and path.
FROM_PACKAGE = {
    "10-metrics.conf": ("dovecot-core", "/usr/share/dovecot/conf.d/10-metrics.conf"),
    "20-submission.conf": ("dovecot-submissiond", "/usr/share/dovecot/conf.d/20-submission.conf"),
}


def dovecot_undo_debian(name: str, text: str) -> str:
    """Debian 1:2.3.19.1+dfsg1-2.1 -> upstream 2.3.19.1 example-config."""
    w = f"debian->upstream {name}"
    if name == "dovecot.conf":
        text = replace(text,
                       "# Enable installed protocols\n"
                       "!include_try /usr/share/dovecot/protocols.d/*.protocol\n",
                       "# Protocols we want to be serving.\n"
                       "#protocols = imap pop3 lmtp submission\n", what=w)
    elif name == "10-mail.conf":
        text = replace(text, "\nmail_location = mbox:~/mail:INBOX=/var/mail/%u\n",
                       "\n#mail_location = \n", what=w)
        text = replace(text, "\nmail_privileged_group = mail\n",
                       "\n#mail_privileged_group =\n", what=w)
        text = replace(text, "#mail_plugin_dir = /usr/lib/dovecot/modules\n",
                       "#mail_plugin_dir = /usr/lib/dovecot\n", what=w)
        # Debian's note on its mbox_write_locks order, and the order itself.
        text = delete(text,
                      "#\n# The Debian value for mbox_write_locks differs from upstream Dovecot. It is\n"
                      "# changed to be compliant with Debian Policy (section 11.6) for NFS safety.\n"
                      "#       Dovecot: mbox_write_locks = dotlock fcntl\n"
                      "#       Debian:  mbox_write_locks = fcntl dotlock\n#\n", what=w)
        text = replace(text, "#mbox_write_locks = fcntl dotlock\n",
                       "#mbox_write_locks = dotlock fcntl\n", what=w)
    elif name == "10-ssl.conf":
        text = replace(text, "\nssl = yes\n", "\n#ssl = yes\n", what=w)
        text = replace(text,
                       "ssl_cert = </etc/dovecot/private/dovecot.pem\n"
                       "ssl_key = </etc/dovecot/private/dovecot.key\n",
                       "ssl_cert = </etc/ssl/certs/dovecot.pem\n"
                       "ssl_key = </etc/ssl/private/dovecot.pem\n", what=w)
        text = delete(text, "ssl_client_ca_dir = /etc/ssl/certs\n", what=w)
        text = replace(text, "\nssl_dh = </usr/share/dovecot/dh.pem\n",
                       "\n#ssl_dh = </etc/dovecot/dh.pem\n", what=w)
    return text


def dovecot_upstream_2_3_21(name: str, text: str) -> str:
    """2.3.19.1 (= 2.3.16 for these files) -> 2.3.21: the submissions listener."""
    if name == "10-master.conf":
        text = insert_after(text,
                            "  inet_listener submission {\n    #port = 587\n  }\n",
                            "  inet_listener submissions {\n    #port = 465\n  }\n",
                            what="2.3.21 10-master.conf")
    return text


def dovecot_rhel(name: str, text: str) -> str:
    """The spec's %patch of dovecot-2.0-defaultconfig.patch, then its sed."""
    w = f"rhel {name}"
    if name == "10-ssl.conf":
        text = replace(text, "\n#ssl = yes\n",
                       "\n# disable plain pop3 and imap, allowed are only pop3+TLS, pop3s, imap+TLS and imaps\n"
                       "# plain imap and pop3 are still allowed for local connections\n"
                       "ssl = required\n", what=w)
        text = insert_after(text,
                            "#ssl_cipher_list = ALL:!DH:!kRSA:!SRP:!kDHd:!DSS:!aNULL:!eNULL:"
                            "!EXPORT:!DES:!3DES:!MD5:!PSK:!RC4:!ADH:!LOW@STRENGTH\n",
                            "ssl_cipher_list = PROFILE=SYSTEM\n", what=w)
        # sed -i 's|/etc/ssl|/etc/pki/dovecot|' doc/example-config/conf.d/10-ssl.conf
        text = sed_first_per_line(text, "/etc/ssl", "/etc/pki/dovecot")
    elif name == "10-mail.conf":
        text = insert_after(text, "#mbox_write_locks = dotlock fcntl\n",
                            "mbox_write_locks = fcntl\n", what=w)
        text = replace(text, "\n#first_valid_uid = 500\n", "\nfirst_valid_uid = 1000\n", what=w)
    return text


def dovecot_tree(files: DebianFiles, release: int) -> dict[str, str]:
    out: dict[str, str] = {}
    names = ["dovecot.conf"] + [f"conf.d/{n}" for n in RHEL_DOVECOT_CONF_D]
    for rel in names:
        name = rel.rsplit("/", 1)[-1]
        if name in FROM_PACKAGE:
            text = files.read(*FROM_PACKAGE[name])
        else:
            text = (DEBIAN12 / "etc" / "dovecot" / rel).read_text()
        text = dovecot_undo_debian(name, text)
        if release >= 10:
            text = dovecot_upstream_2_3_21(name, text)
        text = dovecot_rhel(name, text)
        out[f"etc/dovecot/{rel}"] = text
    return out


# --------------------------------------------------------------------------
# Postfix main.cf


def main_cf_undo_debian(text: str) -> str:
    """Debian's main.cf.dist (3.7.11-0+deb12u1) -> upstream 3.7.11 conf/main.cf."""
    w = "debian->upstream main.cf"
    text = replace(text, "\n#queue_directory = /var/spool/postfix\n",
                   "\nqueue_directory = /var/spool/postfix\n", what=w)
    text = replace(text, "\ndaemon_directory = /usr/lib/postfix/sbin\n",
                   "\ndaemon_directory = /usr/libexec/postfix\n", what=w)
    text = replace(text, "\n#mail_owner = postfix\n", "\nmail_owner = postfix\n", what=w)
    text = delete(text,
                  "# Debian GNU/Linux specific:  Specifying a file name will cause the\n"
                  "# first line of that file to be used as the name.  The Debian default\n"
                  "# is /etc/mailname.\n#\n#myorigin = /etc/mailname\n", what=w)
    text = replace(text, "\nmynetworks = 127.0.0.0/8\n", "\n", what=w)
    text = replace(text, "#mailbox_command = /usr/bin/procmail\n",
                   "#mailbox_command = /some/where/procmail\n", what=w)
    text = replace(text, '#mailbox_command = /usr/bin/procmail -a "$EXTENSION"\n',
                   '#mailbox_command = /some/where/procmail -a "$EXTENSION"\n', what=w)
    text = delete(text, "smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)\n\n", what=w)
    text = replace(text, "\n#debug_peer_level = 2\n", "\ndebug_peer_level = 2\n", what=w)
    return text


def main_cf_upstream_3_5(text: str) -> str:
    """Upstream 3.7 -> 3.5 conf/main.cf (RHEL 9 ships 3.5.x)."""
    w = "3.7->3.5 main.cf"
    text = delete(text,
                  '# TIP: use the command "postconf -n" to view main.cf parameter\n'
                  '# settings, "postconf parametername" to view a specific parameter,\n'
                  "# and \"postconf 'parametername=value'\" to set a specific parameter.\n#\n",
                  what=w)
    text = replace(text, "\ncompatibility_level = 3.7\n", "\ncompatibility_level = 2\n", what=w)
    # 3.5 still described the old default mynetworks_style = subnet.
    text = replace(text,
                   '# By default (mynetworks_style = host), Postfix "trusts" only\n'
                   "# the local machine.\n# \n"
                   '# Specify "mynetworks_style = subnet" when Postfix should "trust"\n'
                   "# SMTP clients in the same IP subnetworks as the local machine.\n"
                   "# On Linux, this works correctly only with interfaces specified\n"
                   '# with the "ifconfig" or "ip" command.\n#\n',
                   '# By default (mynetworks_style = subnet), Postfix "trusts" SMTP\n'
                   "# clients in the same IP subnetworks as the local machine.\n"
                   "# On Linux, this works correctly only with interfaces specified\n"
                   '# with the "ifconfig" command.\n# \n', what=w)
    text = replace(text, "#mynetworks = 168.100.3.0/28, 127.0.0.0/8\n",
                   "#mynetworks = 168.100.189.0/28, 127.0.0.0/8\n", what=w)
    # ... and relay_domains' old default $mydestination.
    text = replace(text,
                   "# relay mail to.  See the smtpd_relay_restrictions and\n"
                   "# smtpd_recipient_restrictions descriptions in  postconf(5) for detailed\n"
                   "# information.\n",
                   "# relay mail to.  See the smtpd_recipient_restrictions description in\n"
                   "# postconf(5) for detailed information.\n", what=w)
    text = replace(text,
                   '# - from "trusted" clients (IP address matches $mynetworks, or is\n'
                   "#   SASL authenticated) to any destination,\n",
                   '# - from "trusted" clients (IP address matches $mynetworks) to any destination,\n',
                   what=w)
    text = replace(text, "# The default relay_domains value is empty.\n",
                   "# The default relay_domains value is $mydestination.\n", what=w)
    text = replace(text, "\n#relay_domains = \n", "\n#relay_domains = $mydestination\n", what=w)
    return text


def main_cf_upstream_3_8(text: str) -> str:
    """Upstream 3.7 -> 3.8 conf/main.cf: only the compatibility level."""
    return replace(text, "\ncompatibility_level = 3.7\n", "\ncompatibility_level = 3.8\n",
                   what="3.7->3.8 main.cf")


def main_cf_rhel_config_patch(text: str) -> str:
    """The settings of RHEL's postfix-3.x-config.patch (the prose comment
    blocks it adds are not reproduced: see SOURCES.md)."""
    w = "rhel config patch main.cf"
    text = insert_after(text, "#inet_interfaces = $myhostname, localhost\n",
                        "inet_interfaces = localhost\n\n"
                        "# Enable IPv4, and IPv6 if supported\n"
                        "inet_protocols = all\n", what=w)
    text = replace(text, "\n#mydestination = $myhostname, localhost.$mydomain, localhost\n",
                   "\nmydestination = $myhostname, localhost.$mydomain, localhost\n", what=w)
    text = replace(text, "\n#alias_maps = hash:/etc/aliases\n",
                   "\nalias_maps = hash:/etc/aliases\n", what=w)
    text = replace(text, "\n#alias_database = hash:/etc/aliases\n",
                   "\nalias_database = hash:/etc/aliases\n", what=w)
    # Cyrus IMAP's LMTP socket where RHEL's cyrus-imapd puts it.
    text = replace(text, "#mailbox_transport = lmtp:unix:/var/imap/socket/lmtp\n",
                   "#mailbox_transport = lmtp:unix:/var/lib/imap/socket/lmtp\n", what=w)
    text = replace(text,
                   "#fallback_transport = lmtp:unix:/file/name\n#fallback_transport = cyrus\n",
                   "#fallback_transport = lmtp:unix:/var/lib/imap/socket/lmtp\n", what=w)
    # upstream's trailing "inet_protocols = ipv4" goes (set above); TLS by default.
    text = replace(text, "\ninet_protocols = ipv4\n",
                   "\n\n# TLS CONFIGURATION\n#\n"
                   "smtpd_tls_cert_file = /etc/pki/tls/certs/postfix.pem\n\n"
                   "smtpd_tls_key_file = /etc/pki/tls/private/postfix.key\n\n"
                   "smtpd_tls_security_level = may\n\n"
                   "smtp_tls_CApath = /etc/pki/tls/certs\n\n"
                   "smtp_tls_CAfile = /etc/pki/tls/certs/ca-bundle.crt\n\n"
                   "smtp_tls_security_level = may\n", what=w)
    return text


def main_cf_rhel_lmdb(text: str) -> str:
    """RHEL 10 builds without Berkeley DB: the spec's sed to lmdb, then
    default_database_type appended."""
    w = "rhel10 lmdb main.cf"
    text = replace(text, "\nalias_maps = hash:/etc/aliases\n",
                   "\nalias_maps = lmdb:/etc/aliases\n", what=w)
    text = replace(text, "\nalias_database = hash:/etc/aliases\n",
                   "\nalias_database = lmdb:/etc/aliases\n", what=w)
    return text + "\ndefault_database_type = lmdb\n"


# postfix-install's `postconf -e` during `make non-interactive-package`, in order.
RHEL_INSTALL_PATHS = [
    ("daemon_directory", "/usr/libexec/postfix"),
    ("data_directory", "/var/lib/postfix"),
    ("command_directory", "/usr/sbin"),
    ("queue_directory", "/var/spool/postfix"),
    ("mail_owner", "postfix"),
    ("setgid_group", "postdrop"),
    ("sendmail_path", "/usr/sbin/sendmail.postfix"),
    ("mailq_path", "/usr/bin/mailq.postfix"),
    ("newaliases_path", "/usr/bin/newaliases.postfix"),
    ("html_directory", "no"),
    ("manpage_directory", "/usr/share/man"),
    ("sample_directory", "/usr/share/doc/postfix/samples"),
    ("readme_directory", "/usr/share/doc/postfix/README_FILES"),
    ("meta_directory", "/etc/postfix"),
    ("shlib_directory", "/usr/lib64/postfix"),
]


# --------------------------------------------------------------------------
# Postfix master.cf

_SERVICE_TYPES = {"inet", "unix", "unix-dgram", "fifo", "pass"}


def _chroot_n(line: str) -> str:
    """Set a (possibly commented) service line's chroot column from y to n."""
    body = line[1:] if line.startswith("#") else line
    tokens = list(re.finditer(r"\S+", body))
    if len(tokens) >= 5 and tokens[1].group() in _SERVICE_TYPES and tokens[4].group() == "y":
        at = tokens[4].start() + (len(line) - len(body))
        return line[:at] + "n" + line[at + 1:]
    return line


def master_cf_undo_debian(text: str) -> str:
    """Debian's master.cf.dist -> upstream 3.7.11 conf/master.cf."""
    w = "debian->upstream master.cf"
    text = "".join(_chroot_n(line) for line in text.splitlines(keepends=True))
    # Debian enables the pipe(8) examples; upstream leaves them commented.
    text = replace(text,
                   "maildrop  unix  -       n       n       -       -       pipe\n"
                   "  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}\n",
                   "#maildrop  unix  -       n       n       -       -       pipe\n"
                   "#  flags=DRXhu user=vmail argv=/usr/local/bin/maildrop -d ${recipient}\n",
                   what=w)
    text = replace(text, "# ====================================================================\n"
                         "# Old example of delivery via Cyrus.\n",
                   "# ====================================================================\n#\n"
                   "# Old example of delivery via Cyrus.\n", what=w)
    text = replace(text,
                   "uucp      unix  -       n       n       -       -       pipe\n"
                   "  flags=Fqhu user=uucp argv=uux -r -n -z -a$sender - $nexthop!rmail ($recipient)\n"
                   "#\n",
                   "#uucp      unix  -       n       n       -       -       pipe\n"
                   "#  flags=Fqhu user=uucp argv=uux -r -n -z -a$sender - $nexthop!rmail ($recipient)\n"
                   "#\n# ====================================================================\n#\n",
                   what=w)
    text = replace(text,
                   "ifmail    unix  -       n       n       -       -       pipe\n"
                   "  flags=F user=ftn argv=/usr/lib/ifmail/ifmail -r $nexthop ($recipient)\n"
                   "bsmtp     unix  -       n       n       -       -       pipe\n"
                   "  flags=Fq. user=bsmtp argv=/usr/lib/bsmtp/bsmtp -t$nexthop -f$sender $recipient\n"
                   "scalemail-backend unix -       n       n       -       2       pipe\n"
                   "  flags=R user=scalemail argv=/usr/lib/scalemail/bin/scalemail-store"
                   " ${nexthop} ${user} ${extension}\n"
                   "mailman   unix  -       n       n       -       -       pipe\n"
                   "  flags=FRX user=list argv=/usr/lib/mailman/bin/postfix-to-mailman.py"
                   " ${nexthop} ${user}\n",
                   "#ifmail    unix  -       n       n       -       -       pipe\n"
                   "#  flags=F user=ftn argv=/usr/lib/ifmail/ifmail -r $nexthop ($recipient)\n"
                   "#\n"
                   "#bsmtp     unix  -       n       n       -       -       pipe\n"
                   "#  flags=Fq. user=bsmtp argv=/usr/local/sbin/bsmtp -f $sender $nexthop $recipient\n"
                   "#\n"
                   "#scalemail-backend unix -       n       n       -       2       pipe\n"
                   "#  flags=R user=scalemail argv=/usr/lib/scalemail/bin/scalemail-store\n"
                   "#  ${nexthop} ${user} ${extension}\n"
                   "#\n"
                   "#mailman   unix  -       n       n       -       -       pipe\n"
                   "#  flags=FRX user=list argv=/usr/lib/mailman/bin/postfix-to-mailman.py\n"
                   "#  ${nexthop} ${user}\n",
                   what=w)
    return text


_RESTRICTIONS_3_7 = (
    "#     Instead of specifying complex smtpd_<xxx>_restrictions here,\n"
    '#     specify "smtpd_<xxx>_restrictions=$mua_<xxx>_restrictions"\n'
    "#     here, and specify mua_<xxx>_restrictions in main.cf (where\n"
    '#     "<xxx>" is "client", "helo", "sender", "relay", or "recipient").\n'
    "#  -o smtpd_client_restrictions=\n"
    "#  -o smtpd_helo_restrictions=\n"
    "#  -o smtpd_sender_restrictions=\n"
    "#  -o smtpd_relay_restrictions=\n"
    "#  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject\n"
)
_RESTRICTIONS_3_5 = (
    "#  -o smtpd_client_restrictions=$mua_client_restrictions\n"
    "#  -o smtpd_helo_restrictions=$mua_helo_restrictions\n"
    "#  -o smtpd_sender_restrictions=$mua_sender_restrictions\n"
    "#  -o smtpd_recipient_restrictions=\n"
    "#  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n"
)


def master_cf_upstream_3_5(text: str) -> str:
    """Upstream 3.7 -> 3.5 conf/master.cf: the old submission/smtps examples."""
    w = "3.7->3.5 master.cf"
    text = delete(text,
                  "# Choose one: enable submission for loopback clients only, or for any client.\n"
                  "#127.0.0.1:submission inet n -   n       -       -       smtpd\n", what=w)
    text = replace(text, _RESTRICTIONS_3_7, _RESTRICTIONS_3_5, count=2, what=w)
    text = replace(text,
                   "# Choose one: enable submissions for loopback clients only, or for any client.\n"
                   "#127.0.0.1:submissions inet n  -       n       -       -       smtpd\n"
                   "#submissions     inet  n       -       n       -       -       smtpd\n"
                   "#  -o syslog_name=postfix/submissions\n",
                   "#smtps     inet  n       -       n       -       -       smtpd\n"
                   "#  -o syslog_name=postfix/smtps\n", what=w)
    return text


def master_cf_upstream_3_8(text: str) -> str:
    """Upstream 3.7 -> 3.8 conf/master.cf: local_header_rewrite_clients examples."""
    w = "3.7->3.8 master.cf"
    text = insert_after(text, "#  -o smtpd_tls_auth_only=yes\n",
                        "#  -o local_header_rewrite_clients=static:all\n", what=w)
    text = insert_after(text, "#  -o smtpd_tls_wrappermode=yes\n#  -o smtpd_sasl_auth_enable=yes\n",
                        "#  -o local_header_rewrite_clients=static:all\n", what=w)
    return text


def master_cf_rhel_config_patch(text: str) -> str:
    """RHEL's config patch: Cyrus's deliver where RHEL's cyrus-imapd has it."""
    return replace(text, "argv=/cyrus/bin/deliver ", "argv=/usr/lib/cyrus-imapd/deliver ",
                   count=2, what="rhel config patch master.cf")


def postfix_tree(files: DebianFiles, release: int) -> dict[str, str]:
    main = files.read("postfix", "/usr/share/postfix/main.cf.dist")
    master = files.read("postfix", "/usr/share/postfix/master.cf.dist")
    main = main_cf_undo_debian(main)
    master = master_cf_undo_debian(master)
    if release >= 10:
        main, master = main_cf_upstream_3_8(main), master_cf_upstream_3_8(master)
    else:
        main, master = main_cf_upstream_3_5(main), master_cf_upstream_3_5(master)
    main = main_cf_rhel_config_patch(main)
    master = master_cf_rhel_config_patch(master)
    if release >= 10:
        main = main_cf_rhel_lmdb(main)
    main = postconf_e(main, RHEL_INSTALL_PATHS)
    return {"etc/postfix/main.cf": main, "etc/postfix/master.cf": master}


# --------------------------------------------------------------------------


def generate(out_root: Path) -> None:
    files = DebianFiles()
    try:
        for release in (9, 10):
            tree = {**dovecot_tree(files, release), **postfix_tree(files, release)}
            dest = out_root / f"rhel{release}"
            if (dest / "etc").exists():
                shutil.rmtree(dest / "etc")
            for rel, text in sorted(tree.items()):
                path = dest / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
                path.chmod(0o644)
    finally:
        files.close()


def differences(a: Path, b: Path) -> list[str]:
    def walk(cmp: filecmp.dircmp, prefix: str) -> list[str]:
        out = [f"only in {cmp.left}: {n}" for n in cmp.left_only]
        out += [f"only in {cmp.right}: {n}" for n in cmp.right_only]
        out += [f"differs: {prefix}{n}" for n in cmp.diff_files]
        for name, sub in cmp.subdirs.items():
            out += walk(sub, f"{prefix}{name}/")
        return out
    return walk(filecmp.dircmp(a, b, ignore=[]), "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=FRESH,
                    help="directory to write rhel9/ and rhel10/ into (default: the fixtures)")
    ap.add_argument("--check", action="store_true",
                    help="generate into a temporary directory and compare with the fixtures")
    args = ap.parse_args(argv)
    if not args.check:
        generate(args.out)
        return 0
    with tempfile.TemporaryDirectory(prefix="make_rhel_fresh-check-") as tmp:
        generate(Path(tmp))
        problems = []
        for release in ("rhel9", "rhel10"):
            problems += differences(Path(tmp) / release / "etc", FRESH / release / "etc")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
