# Generated from src/herald/_async/__init__.py by scripts/gen_sync.py: do not edit.
"""The asyncio client: the one source of both clients (see ``scripts/gen_sync.py``)."""
