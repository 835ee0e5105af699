"""The version, in one place: the wheel (pyproject.toml), ``--version``, /healthz and the
MCP server read it. A module of its own so that nothing inside the package imports the
package's ``__init__`` for it."""

__version__ = "0.9.0"
