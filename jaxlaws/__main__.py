import sys

from jaxlaws.cli import main

sys.exit(main())
