"""el-monitor: the monitoring and alerting companion for EventLogging pipelines.

``__version__`` is the one place the version is written: the package metadata reads it
(pyproject.toml, ``[tool.setuptools.dynamic]``), and ``--version`` of every command prints it.
"""

__version__ = "0.1.0"
