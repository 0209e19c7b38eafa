"""Running jobs for a client such as the desktop: one message protocol, several transports.

`protocol` holds the messages and the `JobClient` interface (pure Python); `service` runs a job on an
`Engine`; `inprocess` serves it on a thread of the caller's process (tests), `process` from an engine
process of its own (the desktop's default).
"""
