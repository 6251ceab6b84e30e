"""The sync stage: diff rows against state, plan, execute through the API, write statuses back;
`cycle` runs one poll of one sheet."""
