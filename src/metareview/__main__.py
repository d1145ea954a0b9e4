"""``python -m metareview`` runs the ``review`` command."""

from .cli import main

main()
