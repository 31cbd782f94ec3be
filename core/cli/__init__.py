"""One module per `python -m core` subcommand (see core/__main__.py)."""
