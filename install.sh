#!/bin/sh
# Install mailwizard from this checkout, as root: its own virtual environment in /opt/mailwizard
# (nothing mixed into the system's Python), and the command linked where `sudo mailwizard` finds it.
# RHEL's sudo secure_path is /sbin:/bin:/usr/sbin:/usr/bin (no /usr/local/bin): the link goes to
# /usr/sbin there; Debian's includes /usr/local/bin. mailwizard needs Python 3.11 or newer: RHEL 9's
# python3 is 3.9, so python3.11 comes from AppStream; RHEL 10's python3 is 3.12, Debian 12's 3.11.
#
#   sudo ./install.sh        (MAILWIZARD_PREFIX and MAILWIZARD_BIN change the two places)
#   sudo ./install.sh FILE   (a mailwizard wheel instead of this checkout: offline, with pip's
#                             find-links / no-index in /etc/pip.conf for the dependencies)
set -eu
package=.
if [ $# -gt 0 ]; then package=$(realpath -- "$1"); fi
cd "$(dirname "$0")"
. /etc/os-release
prefix=${MAILWIZARD_PREFIX:-/opt/mailwizard}
case " $ID ${ID_LIKE:-} " in
  *" rhel "*|*" fedora "*|*" centos "*)
    bin=${MAILWIZARD_BIN:-/usr/sbin}
    case "${VERSION_ID%%.*}" in
      9) python=python3.11; command -v "$python" >/dev/null || dnf install -y python3.11 python3.11-pip ;;
      *) python=python3 ;;
    esac ;;
  *" debian "*)
    bin=${MAILWIZARD_BIN:-/usr/local/bin}
    python=python3
    "$python" -c 'import ensurepip' 2>/dev/null || apt-get install -y python3-venv ;;
  *) echo "install.sh: $PRETTY_NAME is not RHEL 9/10 (or a rebuild) or Debian 12" >&2; exit 1 ;;
esac
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  { echo "install.sh: mailwizard needs Python 3.11 or newer ($python is older)" >&2; exit 1; }
"$python" -m venv "$prefix"
"$prefix/bin/pip" install --quiet --upgrade "$package"
mkdir -p "$bin"
ln -sf "$prefix/bin/mailwizard" "$bin/mailwizard"
echo "installed: $bin/mailwizard -> $prefix/bin/mailwizard; run: sudo mailwizard (or mailwizard --dry-run)"
