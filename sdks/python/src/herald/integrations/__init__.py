"""Ready-made receivers for web frameworks: :mod:`herald.integrations.fastapi` and
:mod:`herald.integrations.flask`."""
