"""Command-line interface (``pose2mesh ...``)."""
