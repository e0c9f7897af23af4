"""``python -m speechbrain_mmspeech.convert``: the ``mmspeech-convert`` command.

Authors
 * MMSpeech plugin contributors 2026
"""

import sys

from speechbrain_mmspeech.convert.cli import main

if __name__ == "__main__":
    sys.exit(main())
