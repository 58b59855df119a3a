"""``python -m relayguard.shell --worker``: the shell parser worker process."""

import sys

from relayguard.shell.worker import _worker_main

if sys.argv[1:] == ["--worker"]:
    _worker_main()
