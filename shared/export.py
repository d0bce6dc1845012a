"""CSV for spreadsheets: every export writes through ``writer`` so no cell is a formula.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)`` in a customer's name
becomes a link that leaks or runs something). As OWASP advises ("CSV Injection"), such a
cell gets a leading apostrophe, which spreadsheets show as text and do not display.
"""

from __future__ import annotations

import csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """``value`` as a spreadsheet will read it as text (only strings can be formulas)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class writer:
    """``csv.writer`` whose rows are neutralised cell by cell.

    ``excel=True``: for Excel as Spain (and most of Europe) sets it up, which opens a CSV
    without a byte-order mark as Windows-1252 ("JosÃ©") and splits columns on ``;``: the
    text starts with a UTF-8 BOM and cells are separated by ``;``."""

    def __init__(self, stream, excel: bool = False, **kwargs):
        if excel:
            stream.write("\ufeff")
            kwargs.setdefault("delimiter", ";")
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)
