"""Benchmarks: ``make bench`` (``python -m bench``) runs each ``bench/bench_*.py`` module's ``main()``.

A benchmark module prints its own figures (one line each, ``name: value unit``) and returns
nothing. Keep each under a minute on the 2-core CI-sized machine.
"""
