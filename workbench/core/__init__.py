"""The pure domain core: no Flask, no database, no web forms.

Everything here takes plain Python values, dataclasses or pandas objects and returns results, so
it can be tested with plain pytest and used from a notebook.
"""
