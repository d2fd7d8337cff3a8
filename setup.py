"""Package list only; all other metadata lives in pyproject.toml.

``fcdesk`` and every subpackage are found automatically (so a new ``fcdesk/<pkg>/`` is shipped
without touching packaging), and the top-level ``resources/`` folder is added as
``fcdesk.resources`` (mapped by ``package-dir`` in pyproject.toml).
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["fcdesk", "fcdesk.*"], exclude=["*.__pycache__"]),
        "fcdesk.resources",
    ],
)
