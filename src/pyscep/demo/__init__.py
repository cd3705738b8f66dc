"""``pyscep demo``'s story: a certificate's whole life through the real client and server.

`tell` runs the story against a `DemoServer` (`InProcessServer`: the reference
server called directly; `LiveServer`: ``pyscep serve`` over HTTP on 127.0.0.1)
and returns the transcript as `Step` values; `tell_post_quantum` tells the
post-quantum one (an ML-DSA CA, an ML-KEM RA, the opt-in profile).
"""

from __future__ import annotations

from .story import Exchange, Step, tell, tell_post_quantum
from .transport import POLICY, POST_QUANTUM_POLICY, DemoServer, InProcessServer, LiveServer

__all__ = [
    "POLICY",
    "POST_QUANTUM_POLICY",
    "DemoServer",
    "Exchange",
    "InProcessServer",
    "LiveServer",
    "Step",
    "tell",
    "tell_post_quantum",
]
