"""Spreadsheets in and out: the only package that touches Excel (openpyxl) files.

:mod:`.common` holds helpers any workbook needs (styles, validation lists, reading
cells with their A1 references); :mod:`.extraction` writes and reads the data
extraction workbook. Import the submodules directly; they load openpyxl lazily.
"""
