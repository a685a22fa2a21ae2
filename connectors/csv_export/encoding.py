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


def _decode(data: bytes, enc: str, detecting: bool) -> str:
    """``data`` decoded as ``enc``; a UnicodeDecodeError's offsets always count from the first
    byte of the file, BOM included (Python's utf-8-sig counts from after the BOM)."""
    if enc == "cp932":
        return _decode_cp932_strict(data) if detecting else data.decode("cp932")
    if enc == "utf-8-sig" and data.startswith(_BOM):
        try:
            return data[len(_BOM):].decode("utf-8")
        except UnicodeDecodeError as err:
            raise UnicodeDecodeError(enc, data, err.start + len(_BOM), err.end + len(_BOM),
                                     err.reason) from None
    return data.decode(enc)


def _cut_short(data: bytes, err: UnicodeDecodeError) -> bool:
    """The only thing wrong is a multi-byte character whose last bytes are missing at the end
    of the file: the file was cut there (a copy or download that did not finish)."""
    return err.end >= len(data) and err.reason in ("unexpected end of data",
                                                    "incomplete multibyte sequence")


def _truncated(data: bytes, enc: str, err: UnicodeDecodeError, file: str) -> CsvExportError:
    line = _line_of(data, err.start)
    name = "UTF-8" if enc.startswith("utf-8") else "cp932/Shift_JIS"
    return CsvExportError([Problem(file, line, None, (
        f"the file looks truncated at line {line}: it ends inside a multi-byte {name} character "
        f"(the bytes at {_describe(data, err)} lack the rest); export or copy the file again"))])


def decode(data: bytes, encoding: str, file: str) -> tuple[str, str]:
    """Return (text, encoding found: ``utf-8``, ``utf-8-sig`` or ``cp932``).

    ``encoding`` is one of ENCODINGS: ``auto`` tries UTF-8 (BOM or not), then cp932; a named
    encoding is used as is. A leading UTF-8 BOM is dropped whichever UTF-8 variant is named.
    Raises CsvExportError naming the file, the byte offset (from the file's first byte, BOM
    included) and line where decoding failed; a file that ends inside a multi-byte character
    is reported as truncated at its last line, not as an unknown encoding.
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
            text = _decode(data, enc, detecting=encoding == "auto")
        except UnicodeDecodeError as err:
            # Cut inside the last character. For UTF-8, only when some non-ASCII text before it
            # decoded (cp932 text is practically never valid UTF-8); ASCII followed by a lead
            # byte may still be a complete cp932 file, which the next candidate decides.
            if _cut_short(data, err) and (enc == candidates[-1] or not data[: err.start].isascii()):
                raise _truncated(data, enc, err, file) from None
            failures.append((enc, err))
            continue
        if enc == "cp932":
            return text, "cp932"
        return text, ("utf-8-sig" if has_bom else "utf-8")

    cut = [(enc, err) for enc, err in failures if _cut_short(data, err)]
    if cut:  # ASCII, then a character cut short: UTF-8's verdict stands
        raise _truncated(data, *cut[0], file)
    # the candidate that decoded furthest is most likely the intended one: report its position
    furthest = max((err for _, err in failures), key=lambda e: e.start)
    line = _line_of(data, furthest.start)
    names = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "cp932": "cp932/Shift_JIS"}
    failures.sort(key=lambda item: -item[1].start)
    tried = "; ".join(f"not {names[enc]}: invalid at {_describe(data, err)}" for enc, err in failures)
    if encoding == "auto" and has_bom:
        msg = (f"the file starts with a UTF-8 byte-order mark (BOM) but is not UTF-8: invalid at "
               f"{_describe(data, furthest)}")
        if data[len(_BOM) : furthest.start].isascii() and _decodes_as_cp932(data[len(_BOM):]):
            msg += ("; without the BOM it reads as cp932/Shift_JIS: save it again as UTF-8, or as "
                    "Shift_JIS without a BOM")
        elif not data[len(_BOM) : furthest.start].isascii():
            msg += (f"; it is UTF-8 up to line {line}: two encodings in one file (a file "
                    "appended to by another program?)")
    elif encoding == "auto":
        msg = f"unknown encoding (expected UTF-8, UTF-8 with BOM or cp932/Shift_JIS): {tried}"
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            msg += "; the file looks like UTF-16: save it as CSV in UTF-8 or Shift_JIS"
    else:
        msg = f"cannot decode as {encoding} (the profile's encoding): {tried}"
    raise CsvExportError([Problem(file, line, None, msg)])


def _decodes_as_cp932(data: bytes) -> bool:
    try:
        _decode_cp932_strict(data)
    except UnicodeDecodeError:
        return False
    return True
