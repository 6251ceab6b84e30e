"""Test-only helpers: a Google Sheets API v4 emulator on 127.0.0.1. No shipped code imports
this package."""

from sheetsync.testing.sheets_emulator import READ_KINDS, WRITE_KINDS, SheetsEmulator

__all__ = ["READ_KINDS", "WRITE_KINDS", "SheetsEmulator"]
