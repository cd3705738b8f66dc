"""What the tests share: builders, fixtures' servers, key material, the openssl CLI.

Test modules import from here, never from each other.
"""
