"""The dashboard's pure logic: filtering, sorting, form parsing, diffs and snippets.

Nothing here does I/O or imports Reflex, so State handlers stay short and every rule is
unit-tested (STYLE 12). Values meant for Reflex state are plain dataclasses of simple
fields (str, int, float, bool, lists and dicts of them): no pydantic models, no datetimes.
"""
