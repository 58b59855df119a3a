import sys

from relayguard.cli import main

sys.exit(main())
