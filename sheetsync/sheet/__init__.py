"""The sheet stage: the source contract (base), the tabs and columns (layout), Google Sheets
(google/) and xlsx workbooks (xlsx); `connect.open_source` opens the one a [[sheet]] names."""
