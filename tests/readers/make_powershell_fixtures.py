"""Write ``data/powershell/``: the seed's records as PowerShell 5.1 and 7 print them.

Run from the repository root (``python tests/readers/make_powershell_fixtures.py``) after
changing ``powershell_render``; the files are committed so the fuzzer and a reader of the
repository can see them.  ``test_reader_powershell_fixtures`` fails when they are stale.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from powershell_render import (  # noqa: E402
    Sender,
    convert_to_json,
    export_clixml,
    export_csv,
    format_list,
    format_table,
    redirected,
    utf8_bom,
)
from reader_support import read_file  # noqa: E402

SEED = HERE.parents[1] / "sample_logs" / "seed-mtu-reset"
OUT = HERE / "data" / "powershell"
CEST = (("SRV1", timedelta(hours=2)), ("SRV2", timedelta(hours=2)))
EDT = (("SRV1", timedelta(hours=-4)), ("SRV2", timedelta(hours=-4)))


def fixtures() -> dict[str, bytes]:
    srv1 = sorted(
        (e for p in sorted((SEED / "SRV1").glob("*.evtx")) for e in read_file(p).events),
        key=lambda e: e.time,
    )
    en51, de51 = Sender("5.1", "en-US", 80, EDT), Sender("5.1", "de-DE", 120, CEST)
    en7, de7 = Sender("7", "en-US", 120, EDT), Sender("7", "de-DE", 80, CEST)
    return {
        "SRV1_format_list_ps51_en.txt": redirected(format_list(srv1, en51), en51),
        "SRV1_format_list_star_ps51_de.txt": redirected(format_list(srv1, de51, True), de51),
        "SRV1_format_list_star_ps7_en.txt": redirected(format_list(srv1, en7, True), en7),
        "SRV1_table_ps51_en.txt": redirected(format_table(srv1, en51), en51),
        "SRV1_table_ps7_de.txt": redirected(format_table(srv1, de7), de7),
        "export_csv_ps51_en.csv": utf8_bom(export_csv(srv1, en51)),
        "export_csv_ps51_de_useculture.csv": utf8_bom(export_csv(srv1, de51, use_culture=True)),
        "export_csv_ps7_en.csv": export_csv(srv1, en7, type_line=False).encode(),
        "convertto_json_ps51.json": redirected(convert_to_json(srv1, en51), en51),
        "convertto_json_ps7.json": convert_to_json(srv1, de7).encode(),
        "export_clixml.xml": utf8_bom(export_clixml(srv1, de51)),
    }


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, data in fixtures().items():
        (OUT / name).write_bytes(data)
        print(OUT / name)
