"""`python -m mailwizard` runs the command line."""

from mailwizard.cli import main

raise SystemExit(main())
