"""One module per CLI verb; harness.cli registers them on the `netbench` group."""
