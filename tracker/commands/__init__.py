"""CLI commands that live outside ``tracker/cli.py``; each module defines one click command or group.

``tracker.cli`` imports them and adds them to the ``tracker`` group, so a command's module loads
only when the CLI does.
"""
