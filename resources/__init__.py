"""Bundled data files, shipped as the package ``fcdesk.resources`` (see pyproject.toml).

This ``__init__`` makes it a regular package so that editable installs and
``importlib.resources.files("fcdesk.resources")`` find it. Use
``fcdesk.resources_path.resource_path(name)`` to get a file's path.
"""
