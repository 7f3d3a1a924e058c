"""Rule packs shipped with trailmatch: rules files in the native format (``docs/RULES.md``),
listed by :func:`trailmatch.rules.packs.list_packs` and loaded by
:func:`trailmatch.rules.packs.load_pack`.

=======  ================================================================================
pack     content
=======  ================================================================================
``cis``  CIS AWS Foundations Benchmark / AWS Security Hub CloudWatch.1-14 metric filters
         and alarms, and CIS 4.15 (AWS Organizations changes)
=======  ================================================================================

This package holds data only: each pack is ``<name>.yaml`` next to this file.

Example:
    >>> import importlib.resources
    >>> importlib.resources.files("trailmatch.packs").joinpath("cis.yaml").is_file()
    True
"""
