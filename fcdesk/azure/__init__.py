"""The only package that imports ``azure.*``: credentials, clouds, async capture and (later) every write.

- :mod:`fcdesk.azure.contract` and :mod:`fcdesk.azure.clouds`: pure data shared with the GUI and CLI.
- :mod:`fcdesk.azure.auth`: credentials for each sign-in method, the token cache, keyring secrets.
- :mod:`fcdesk.azure.capture`: the concurrent, throttling-aware capture with the ``.aio`` clients.
- :mod:`fcdesk.azure.session`: :class:`~fcdesk.azure.session.AzureSession`, one signed-in identity.

The SDK is imported lazily, so importing this package (and starting the window) stays cheap.
"""
