"""The protocol layer: sans-IO SCEP server and client, on the message layer.

- `pyscep.protocol.server`: `ScepResponder`, one HTTP request in, one event out;
- `pyscep.protocol.client`: `ScepClient`, the client's state machine;
- `pyscep.protocol.transactions`: what a server remembers, as plain values;
- `pyscep.protocol.profiles`: how real peers differ, as named values.
"""
