"""Make the report's base font: Noto Sans CJK SC (Regular, OFL) cut down to GB2312 level 1 + ASCII + punctuation.

The report (assets/publish/report.py) embeds a further subset of this file per page (only the
characters the page uses), so Chinese renders on machines without any CJK font.  This script is how
``assets/publish/vendor/fonts/NotoSansSC-base.woff2`` was made; run it again only to change the
character set or update the font:

    apt-get install -y fonts-noto-cjk            # Debian: /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
    .venv/bin/pip install fonttools==4.68.0 brotli==1.2.1
    .venv/bin/python bench/make_font_base.py [--source PATH.ttc] [--out PATH.woff2]

Characters: the 3,755 GB2312 level-1 hanzi (the common ones: GB2312 rows 16-55, bytes B0A1-D7F9),
printable ASCII, Latin-1 punctuation, General Punctuation (U+2010-206F), arrows, ≥ ≤ − ±, CJK
symbols and punctuation (U+3000-303F), full-width forms (U+FF01-FF5E), and the geometric shapes the
page draws (▲ ▼ ●).  Hinting is dropped (Chromium does not use CFF hints), OpenType layout
features are kept, the name table keeps the copyright and licence entries.
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
OUT = REPO / "assets" / "publish" / "vendor" / "fonts" / "NotoSansSC-base.woff2"
SC_INDEX_NAME = "Noto Sans CJK SC"


def gb2312_level1() -> str:
    chars = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass  # D7FA-D7FE are unassigned
    return "".join(chars)


def charset() -> str:
    ranges = [(0x20, 0x7E), (0xA0, 0xFF), (0x2010, 0x206F), (0x2190, 0x21FF), (0x3000, 0x303F), (0xFF01, 0xFF5E)]
    extra = "≥≤−±×÷°▲▼△▽●○■□·"
    return gb2312_level1() + "".join(chr(c) for a, b in ranges for c in range(a, b + 1)) + extra


def main() -> None:
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    fonts = TTCollection(str(a.source)).fonts
    font = next(f for f in fonts if f["name"].getDebugName(4) == SC_INDEX_NAME)
    text = charset()
    opts = subset.Options()
    opts.flavor = "woff2"
    opts.layout_features = ["*"]
    opts.hinting = False
    opts.desubroutinize = True
    opts.notdef_outline = True
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]
    sub = subset.Subsetter(opts)
    sub.populate(text=text)
    sub.subset(font)
    font.flavor = "woff2"
    a.out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(a.out))
    print(f"{a.out}: {len(set(text)):,} characters, {a.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
