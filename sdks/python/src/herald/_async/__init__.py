"""The asyncio client: the one source of both clients (see ``scripts/gen_sync.py``)."""
