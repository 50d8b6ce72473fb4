"""QR codes of deep links (segno, a maintained QR library), as printable SVG.

Error correction M (15% of the code may be lost: a smudge or a fold on a counter print; H would
make the code a version or two denser for damage a sticker rarely takes). The quiet zone is the
standard's 4 modules, white behind the whole code so it reads on any background. A module is
1 mm (`width`/`height` in mm, with a viewBox, so it prints at that size and scales without
loss): a deep link makes a code of 33 to 41 modules, 4 to 5 cm with its margin, read by a phone
from arm's length. The link itself is the SVG's title (screen readers, and a tooltip).
"""

from __future__ import annotations

import io

import segno

QUIET_ZONE = 4  # modules, ISO/IEC 18004's minimum
MODULE_MM = 1


def svg(url: str) -> bytes:
    """An SVG QR code of `url`, ready to print."""
    code = segno.make(url, error="m", micro=False, boost_error=False)
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=MODULE_MM,
        unit="mm",
        border=QUIET_ZONE,
        dark="#000",
        light="#fff",
        xmldecl=True,
        title=url,
    )
    return out.getvalue()
