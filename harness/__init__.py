"""harness: replay of run directories through ns-3 scenarios, timing tables, sweeps, plots and the CLI."""
