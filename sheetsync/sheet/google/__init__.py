"""Google Sheets through gspread and google-auth: the source, sign-in, error translation and
request building."""
