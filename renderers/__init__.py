"""Renderers: a definition (and a record) in, HTML or PDF out. No form is named here."""
