"""A hub cache built by hand.

The tests that load a model folder by hub repo id (``tests/export/test_hub.py``,
``tests/lobes/test_wrappers.py``) run offline (the ``no_network`` fixture
of ``conftest.py``) against a cache in the standard
``huggingface_hub`` layout.
"""

import hashlib
import os

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def add_to_hub_cache(cache, repo_id, folder, commit):
    """Puts a folder in a hub cache as ``hf_hub_download`` would have.

    Layout: ``models--org--name/blobs/<sha256>``,
    ``snapshots/<commit>/<file>`` (symlinks to the blobs) and ``refs/main``
    holding the commit hash.
    """
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    blobs, snapshot = repo / "blobs", repo / "snapshots" / commit
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        blob = blobs / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / path.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return repo
