"""sheetsync: run WarmySender outreach from a spreadsheet."""

__version__ = "0.1.0"
