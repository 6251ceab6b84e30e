"""The rows stage: one read of the spreadsheet -> validated, normalised records
(`parse.parse_sheet`)."""
