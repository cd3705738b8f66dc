"""``pyscep demo``'s story: a certificate's whole life through the real client and server.

`tell` runs the story against a `DemoServer` (`InProcessServer`: the reference
server called directly; `LiveServer`: ``pyscep serve`` over HTTP on 127.0.0.1)
and returns the transcript as `Step` values.
"""

from __future__ import annotations

from .story import Exchange, Step, tell
from .transport import POLICY, DemoServer, InProcessServer, LiveServer

__all__ = ["POLICY", "DemoServer", "Exchange", "InProcessServer", "LiveServer", "Step", "tell"]
