"""One module per `python -m core` subcommand (see core/__main__.py)."""


def comma_list(text: str) -> tuple[str, ...]:
    """The names of a comma-separated option ("Male, Young" -> ("Male", "Young")), blanks dropped."""
    return tuple(name.strip() for name in text.split(",") if name.strip())
