"""The one executor: every change touches the host through the same journal transaction.

`execute` asks the change what it is about to do (`Change.effects`: reads and
refusals only), journals that intent (first originals, directories it will
create, inverse commands, files in flight, the service it leaves pending),
lets the change do it (`Change.perform`), then journals the completion. A run
killed at any instant in between is therefore recognised and resumed the
same way for every kind of change: Postfix's tools, useradd, firewall-cmd,
semanage, setsebool, package installs and whole-file writes alike; rollback
replays the recorded inverses.
"""

from __future__ import annotations

from mailwizard.host import Host, LineSink
from mailwizard.journal import Journal
from mailwizard.plan import Change, PutBack, Work


def execute(change: Change, host: Host, journal: Journal, on_line: LineSink) -> None:
    """Apply one change, journalled before and after; an exception leaves the journal true to the host."""
    work = Work(on_line, journal.directory, journal.scratch)
    effects = change.effects(host, work)  # nothing has changed yet if this refuses
    journal.intend(change.key(), effects, change.service)
    try:
        change.perform(host, effects, work)
    except PutBack as exc:  # Postfix refused: these files (the batch's) hold what they held before it
        journal.failed(list(effects.files) + exc.paths)
        raise
    except BaseException:
        journal.failed(list(effects.files))
        raise
    journal.completed(effects, change.merges)
