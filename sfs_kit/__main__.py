"""``python -m sfs_kit`` runs the CLI."""

from sfs_kit.cli import console_main

console_main()
