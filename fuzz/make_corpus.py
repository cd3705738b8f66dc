"""Write the seed corpus: the conformance vectors plus messages of every type
built with the fixed test keys (so mutations reach verify and decrypt), and
pyscep's post-quantum CMS artefacts.

    python fuzz/make_corpus.py OUT_DIR
"""

from __future__ import annotations

import base64
import hashlib
import sys
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from pyscep.testing import strategies
from pyscep.testing.pqc import hackathon_artifacts

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)

    def save(data: bytes) -> None:
        (out / hashlib.sha256(data).hexdigest()[:16]).write_bytes(data)

    for vector in sorted((ROOT / "tests" / "vectors").glob("**/*")):
        if vector.suffix in (".der", ".txt"):
            save(vector.read_bytes())

    @settings(
        max_examples=40, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(strategies.any_message())
    def generate(message: bytes) -> None:
        save(message)

    generate()
    # pyscep's post-quantum CMS (ML-DSA SignedData, KEM recipients, AuthEnvelopedData,
    # PKCS#8 seeds): the tests/vectors/pqc artefacts above are Bouncy Castle's.
    for artifact in hackathon_artifacts(datetime.now(timezone.utc)).values():
        save(artifact)
    # Seeds for the text parsers: scep.conf, inventory JSON, DN patterns, PEM.
    for text in (
        '# OpenCA\nScepAutoApprove "YES"\nScepRenewalWindowDays "30.5"\n'
        'ScepOnBehalfEnrollers "CN=ra-*, O=Example\\, Inc., C=DE; CN=x+OU=y"\n',
        '[{"certificate": "a.der", "status": "valid", "role": "r", "request_id": "T-1"}]',
        "CN=rogue\\, O=Trusted RA\\, C=DE+OU=#0403616263, 2.5.4.10=\\C3\\A9",
    ):
        save(text.encode())
    for vector in sorted((ROOT / "tests" / "vectors").glob("*getca*.der")):
        body = base64.encodebytes(vector.read_bytes())
        save(b"-----BEGIN CERTIFICATE-----\n" + body + b"-----END CERTIFICATE-----\n")
    print(f"{len(list(out.iterdir()))} seeds in {out}")


if __name__ == "__main__":
    main()
