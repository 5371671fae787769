"""``python -m harness`` runs the netbench CLI."""
from harness.cli import main

main()
