"""A scripted $EDITOR: widens the article's last conv from 1024 to 1280 channels, as a person would by hand.
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
lines = path.read_text().replace(BROKEN, "").splitlines(keepends=True)  # a person fixes the mistake too
for i, line in enumerate(lines):
    if '"in_channels": 512, "out_channels": 1024' in line:
        lines[i] = line.replace('"out_channels": 1024', '"out_channels": 1280')
        break
else:
    sys.exit("widen.py: no 512 -> 1024 conv in the spec")
path.write_text("".join(lines))
