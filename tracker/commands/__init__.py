"""CLI commands that live outside ``tracker/cli.py``; each module defines one click command or group.

``tracker.cli`` imports them and adds them to the ``tracker`` group, so a command's module loads
only when the CLI does. ``_base.py`` is what the group and the commands share (the context with
the store and client, ``--store``, output options, the error boundary); commands import it, never
``tracker.cli``.
"""
