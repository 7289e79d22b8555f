"""One Textual screen per step of the wizard, plus the help and confirmation modals."""
