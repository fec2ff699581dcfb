"""QR codes of links, as PNG/SVG bytes or data URIs (CSP allows ``img-src data:``)."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg


def png(url: str, box_size: int = 8) -> bytes:
    out = io.BytesIO()
    qrcode.make(url, box_size=box_size, border=2).save(out)
    return out.getvalue()


def svg(url: str) -> bytes:
    out = io.BytesIO()
    qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage).save(out)
    return out.getvalue()


def data_uris(url: str) -> dict[str, str]:
    """The link as PNG and SVG data URIs."""
    return {
        "png": "data:image/png;base64," + base64.b64encode(png(url)).decode(),
        "svg": "data:image/svg+xml;base64," + base64.b64encode(svg(url)).decode(),
    }
