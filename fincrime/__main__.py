import sys

from fincrime.cli import main

sys.exit(main())
