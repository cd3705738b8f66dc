"""atheris harness: every pyscep parser, verify and decrypt step on fuzzer input.

    python fuzz/fuzz_pyscep.py CORPUS_DIR [libFuzzer options]

Only pyscep errors may escape `fuzz_one_input`; anything else is a crash.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["pyscep", "asn1crypto"]):
    from pyscep.testing import fixed_keys, fuzz_one_input


def main() -> None:
    fixed_keys()  # load the test keys before fuzzing starts
    atheris.Setup(sys.argv, fuzz_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
