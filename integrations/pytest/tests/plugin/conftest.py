"""The plugin's own tests: they run the real reactor-harness binary ($REACTOR_HARNESS)."""

pytest_plugins = ["pytester"]
