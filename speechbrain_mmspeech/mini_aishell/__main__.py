"""Runs the mini-AISHELL generator: ``python -m speechbrain_mmspeech.mini_aishell``.

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain_mmspeech.mini_aishell.cli import main

if __name__ == "__main__":
    main()
