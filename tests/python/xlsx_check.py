"""Reads a monthly report workbook with openpyxl, as an office's tools would, and prints what a
person opening it meets: each sheet's frozen pane, the number format of a rate, the cell type of
a grid code and the width of the names column. server/tests/api/rates.rs asserts on it.

Usage: xlsx_check.py REPORT.xlsx
"""
import json
import sys

from openpyxl import load_workbook

book = load_workbook(sys.argv[1])
out = {"frozen": [book[name].freeze_panes for name in book.sheetnames]}
rates = book["三率"]
header = [c.value for c in rates[1]]
rate = rates.cell(row=2, column=header.index("响应率") + 1)
out["rate_format"] = rate.number_format
scores = book["积分"]
header = [c.value for c in scores[1]]
for row in scores.iter_rows(min_row=2):
    code = row[header.index("编码")]
    if code.value and str(code.value).isdigit() and len(str(code.value)) == 14:
        out["grid_code_type"] = code.data_type
        break
name_column = scores.cell(row=1, column=header.index("名称") + 1).column_letter
out["name_width"] = scores.column_dimensions[name_column].width
print(json.dumps(out, ensure_ascii=False))
