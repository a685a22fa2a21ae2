"""Decode a cart export: UTF-8 with or without BOM, or cp932 (Shift_JIS as Windows writes it)."""

from __future__ import annotations

import re

from .errors import CsvExportError, Problem

ENCODINGS = ("auto", "utf-8", "utf-8-sig", "cp932")
_BOM = b"\xef\xbb\xbf"
# Python's cp932 decodes the single bytes 0x80, 0xA0, 0xFD-0xFF (unused in Shift_JIS text) to
# U+0080 and private-use U+F8F0-U+F8F3, so almost any bytes "decode". Real exports never hold
# them: when detecting, their presence means the file is not cp932.
_NOT_SJIS = re.compile("[\x80\uf8f0-\uf8f3]")


def _decode_cp932_strict(data: bytes) -> str:
    text = data.decode("cp932")
    m = _NOT_SJIS.search(text)
    if m is not None:
        offset = len(text[: m.start()].encode("cp932"))
        raise UnicodeDecodeError("cp932", data, offset, offset + 1, "byte unused in Shift_JIS")
    return text


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _describe(data: bytes, err: UnicodeDecodeError) -> str:
    bad = data[err.start : err.start + 4].hex(" ")
    return f"byte offset {err.start} (line {_line_of(data, err.start)}, bytes {bad})"


def decode(data: bytes, encoding: str, file: str) -> tuple[str, str]:
    """Return (text, encoding found: ``utf-8``, ``utf-8-sig`` or ``cp932``).

    ``encoding`` is one of ENCODINGS: ``auto`` tries UTF-8 (BOM or not), then cp932; a named
    encoding is used as is. A leading UTF-8 BOM is dropped whichever UTF-8 variant is named.
    Raises CsvExportError naming the file, the byte offset and line where decoding failed.
    """
    if encoding not in ENCODINGS:
        raise CsvExportError(
            [Problem(file, None, None, f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")]
        )
    has_bom = data.startswith(_BOM)
    if encoding == "auto":
        candidates = ["utf-8-sig"] if has_bom else ["utf-8", "cp932"]
    elif encoding in ("utf-8", "utf-8-sig"):
        candidates = ["utf-8-sig"]  # decodes with or without BOM
    else:
        candidates = [encoding]

    failures: list[tuple[str, UnicodeDecodeError]] = []
    for enc in candidates:
        try:
            text = _decode_cp932_strict(data) if enc == "cp932" and encoding == "auto" else data.decode(enc)
        except UnicodeDecodeError as err:
            failures.append((enc, err))
            continue
        if enc == "cp932":
            return text, "cp932"
        return text, ("utf-8-sig" if has_bom else "utf-8")

    # the candidate that decoded furthest is most likely the intended one: report its position
    furthest = max((err for _, err in failures), key=lambda e: e.start)
    line = _line_of(data, furthest.start)
    names = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "cp932": "cp932/Shift_JIS"}
    failures.sort(key=lambda item: -item[1].start)
    tried = "; ".join(f"not {names[enc]}: invalid at {_describe(data, err)}" for enc, err in failures)
    if encoding == "auto":
        msg = f"unknown encoding (expected UTF-8, UTF-8 with BOM or cp932/Shift_JIS): {tried}"
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            msg += "; the file looks like UTF-16: save it as CSV in UTF-8 or Shift_JIS"
    else:
        msg = f"cannot decode as {encoding} (the profile's encoding): {tried}"
    raise CsvExportError([Problem(file, line, None, msg)])
