"""netc's language server (``netc lsp``) and the incremental analysis behind it.

``features`` and ``incremental`` are plain Python; only ``server`` imports
pygls (the ``lsp`` extra: ``pip install netc[lsp]``).
"""
