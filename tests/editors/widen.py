"""A scripted $EDITOR: widens the article's last conv from 1024 to 1280 channels, as a person would by hand;
GPTNET_TEST_WIDEN="IN,OUT,NEW" widens the first IN -> OUT conv to NEW instead.
With GPTNET_TEST_BREAK_FIRST set to a file path, the first call writes a broken spec instead (and creates the file)."""

import os
import sys
from pathlib import Path

path = Path(sys.argv[1])
BROKEN = ' {"op": "Conv2d", "kernel_size": 3,,'
flag = os.environ.get("GPTNET_TEST_BREAK_FIRST")
if flag and not Path(flag).exists():
    Path(flag).write_text("broken once")
    path.write_text(path.read_text().replace('"layers": [', '"layers": [' + BROKEN, 1))
    sys.exit(0)
c_in, c_out, c_new = os.environ.get("GPTNET_TEST_WIDEN", "512,1024,1280").split(",")
conv = f'"in_channels": {c_in}, "out_channels": {c_out}'
lines = path.read_text().replace(BROKEN, "").splitlines(keepends=True)  # a person fixes the mistake too
for i, line in enumerate(lines):
    if conv in line:
        lines[i] = line.replace(f'"out_channels": {c_out}', f'"out_channels": {c_new}')
        break
else:
    sys.exit(f"widen.py: no {c_in} -> {c_out} conv in the spec")
path.write_text("".join(lines))
