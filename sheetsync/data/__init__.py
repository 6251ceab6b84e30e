"""Package data: the demo workbook, the example config, and the sample data they are built from.

Files are read with ``importlib.resources.files("sheetsync.data")`` so they work from a wheel.
"""
