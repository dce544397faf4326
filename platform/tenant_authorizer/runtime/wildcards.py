"""IAM-style wildcard matching (``*`` any run of characters, ``?`` one) in linear time.

Route rules and policies are matched against caller-controlled paths, so no regex: a
pattern like ``GET/*/*/*/*/x`` compiled to ``.*`` groups backtracks for minutes on a
long path. A ``*``-only glob is matched greedily (prefix, suffix, then each middle part
found in order with ``str.find``), which is exact for ``*``; globs with ``?`` use the
classic two-pointer algorithm, O(len(pattern) * len(text)) at worst.
"""

from __future__ import annotations


def split_glob(glob: str) -> tuple[str, ...]:
    """The literal parts of a ``*``-only glob (``"a*b"`` -> ``("a", "b")``)."""
    return tuple(glob.split("*"))


def match_parts(parts: tuple[str, ...], text: str) -> bool:
    """Whether ``text`` matches the ``*``-only glob whose literal parts are ``parts``."""
    first = parts[0]
    if len(parts) == 1:
        return text == first
    last = parts[-1]
    if len(text) < len(first) + len(last) or not text.startswith(first):
        return False
    if not text.endswith(last):
        return False
    position, end = len(first), len(text) - len(last)
    for middle in parts[1:-1]:
        found = text.find(middle, position, end)
        if found < 0:
            return False
        position = found + len(middle)
    return True


def match(glob: str, text: str) -> bool:
    """Whether ``text`` matches ``glob`` (``*`` and ``?`` wildcards, case-sensitive)."""
    if "?" not in glob:
        return match_parts(split_glob(glob), text)
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(glob) and glob[p] == "*":
            star, mark = p, t
            p += 1
        elif p < len(glob) and glob[p] in ("?", text[t]):
            p += 1
            t += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            t = mark
        else:
            return False
    while p < len(glob) and glob[p] == "*":
        p += 1
    return p == len(glob)
