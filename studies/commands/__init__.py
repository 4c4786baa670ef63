"""One file per ``attnas`` subcommand (see studies/cli.py)."""
