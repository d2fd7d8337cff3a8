"""fcdesk: Foundry Compliance Desk."""

from fcdesk._version import __version__

__all__ = ["__version__"]
