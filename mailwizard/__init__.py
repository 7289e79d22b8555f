"""mailwizard: plan, apply and verify a Postfix + Dovecot mail server, the RHEL 10 guide's way."""

__version__ = "0.1.0"
