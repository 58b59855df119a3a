"""The transparency log's errors (all are ``RelayguardError``s).

    TranslogError        misuse or an unusable log: bad index or size, wrong key, unreadable file
     ├── EntryError        an entry's bytes are not a well-formed relayguard log entry
     ├── ProofError        an inclusion or consistency proof, or a signed tree head, does not verify
     └── LogCorrupted      ``verify()`` found the stored log changed; ``index`` names the first bad
                           entry (None when only a signed head is bad), ``head_size`` the head involved
"""

from __future__ import annotations

from relayguard.errors import RelayguardError


class TranslogError(RelayguardError):
    status = 500


class EntryError(TranslogError, ValueError):
    pass


class ProofError(TranslogError):
    pass


class LogCorrupted(TranslogError):
    """The stored log no longer matches what was appended and signed.

    ``index`` is the first entry known to be bad (for a change only a signed head reveals, the
    first entry of the smallest range known to hold it); ``end`` is one past the last entry of
    that range when the exact entry cannot be named (else ``index + 1``); ``head_size`` is the
    size of the signed tree head that revealed it, if one did.
    """

    def __init__(self, message: str, *, index: int | None = None, end: int | None = None,
                 head_size: int | None = None) -> None:
        super().__init__(message)
        self.index = index
        self.end = end if end is not None else (index + 1 if index is not None else None)
        self.head_size = head_size
