"""The only package that imports ``azure.*``: credentials, clouds, async fetching and every write.

(Filled in by the live-Azure work; the layering contracts already reserve the name.)
"""
