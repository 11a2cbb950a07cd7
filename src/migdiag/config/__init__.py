"""Configuration snapshots: the collector's ``<HOST>/config/<Cmdlet>.json`` files -> host
facts -> findings by rules kept as data (``config_rules/``, shipped as
``migdiag/config_rules``).

    snapshot.py   one JSON file -> ``Snapshot`` (PowerShell 5.1 and 7 encodings and shapes)
    facts.py      snapshots -> ``Configuration``: typed facts per host (links, jumbo, VMs)
    rules.py      the rule vocabulary: YAML -> ``ConfigRule``, evaluated on facts
    evaluate.py   ``judge(snapshots, warnings) -> ConfigurationReport`` for the analysis
"""

from __future__ import annotations
