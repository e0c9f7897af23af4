"""Old import paths of the modules that moved into subpackages.

Release 0.2 grouped the modules by role (``nnet``, ``lobes``, ``decoders``,
``lm``, ``dataio``, ``training``, ``inference``, ``export``). Code and model
folders written before name the old modules (``speechbrain_mmspeech.decoding``,
``speechbrain_mmspeech.frontend.MMSpeechFbank`` in a ``hyperparams.yaml``, ...);
they keep working for one release, with a ``DeprecationWarning``:

- an old module whose name is free is a SpeechBrain ``deprecated_redirect``
  (``MOVED_MODULES``): a lazy module in ``sys.modules`` and on the package, so
  ``import``, ``from ... import`` and HyperPyYAML's ``pydoc.locate`` find it;
- an old module whose name is now a subpackage (``lm``, ``lobes``,
  ``training``, ``inference``, ``export``) answers its old names through the
  subpackage's ``__getattr__`` (``moved_names``).

Authors
 * MMSpeech plugin contributors 2026
"""

import importlib
import sys
import warnings

from speechbrain.utils.importutils import DeprecatedModuleRedirect

PACKAGE = "speechbrain_mmspeech"

# Old module -> the new modules that hold its names, searched in this order.
MOVED_MODULES = {
    "attention": ("nnet.attention",),
    "layers": ("nnet.layers",),
    "masking": ("nnet.masking",),
    "frontend": ("lobes.features", "dataio.audio"),
    "encoder": ("lobes.models.encoder",),
    "decoder": ("lobes.models.decoder",),
    "model": ("lobes.models.mmspeech",),
    "decoding": ("decoders.seq2seq",),
    "phone_scoring": ("decoders.phone_ctc",),
    "ngram": ("lm.ngram",),
    "aishell_prepare": ("dataio.aishell_prepare",),
    "unpaired": ("dataio.unpaired",),
    "fileio": ("dataio.fileio",),
    "tasks": ("training.tasks",),
    "codes": ("training.codes",),
    "distributed": ("training.distributed",),
    "checkpoints": ("training.checkpoints",),
    "vad": ("inference.vad",),
    "segmentation": ("inference.segmentation",),
    "transcriber": ("inference.segment_decoding",),
    "alignment": ("inference.alignment",),
    "results": ("inference.results",),
    "quantization": ("inference.quantization",),
    "transcribe": (
        "inference.cli",
        "inference.inputs",
        "inference.writers",
        "export.folders",
    ),
    "ctc": ("export.ctc",),
    "hub": ("export.hub",),
}

# Old module that is now a subpackage -> the new modules that hold its names.
MOVED_INTO_SUBPACKAGE = {
    "lm": (
        "lobes.models.transformer_lm",
        "decoders.scorers",
        "training.checkpoints",
    ),
    "lobes": ("lobes.wrappers", "lobes.memory_head", "lobes.foreign_encoder"),
    "training": (
        "training.brain",
        "training.settings",
        "training.checkpoints",
        "training.distributed",
        "dataio.batches",
        "dataio.pools",
        "dataio.manifests",
        "dataio.text_pool",
        "export.folders",
    ),
    "inference": ("inference.ASR",),
    "export": ("export.folders",),
}


def _warn(old, new, stacklevel):
    warnings.warn(
        f"{old} moved to {new}; the old path will be removed in the next "
        "release",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )


def _find(name, modules):
    """The first of ``modules`` (names under the package) that has ``name``."""
    for module in modules:
        loaded = importlib.import_module(f"{PACKAGE}.{module}")
        if hasattr(loaded, name):
            return loaded
    return None


class MovedModule(DeprecatedModuleRedirect):
    """SpeechBrain's deprecated module redirect, to one or more new modules,
    warning with a ``DeprecationWarning``.

    Arguments
    ---------
    old_import : str
        The old module, e.g. ``"speechbrain_mmspeech.decoding"``.
    new_modules : tuple of str
        The new modules under the package, searched in order for a name.

    Example
    -------
    >>> import pytest
    >>> old = MovedModule("speechbrain_mmspeech.old_layers", ("nnet.layers",))
    >>> with pytest.deprecated_call():
    ...     old.DropPath.__module__
    'speechbrain_mmspeech.nnet.layers'
    """

    def __init__(self, old_import, new_modules):
        super().__init__(old_import, f"{PACKAGE}.{new_modules[0]}")
        self.new_modules = new_modules

    def _redirection_warn(self):
        new = " and ".join(f"{PACKAGE}.{m}" for m in self.new_modules)
        _warn(self.old_import, new, stacklevel=5)

    def __getattr__(self, name):
        self.ensure_module(1)  # imports the first module and warns, once
        found = _find(name, self.new_modules)
        if found is None:
            raise AttributeError(
                f"module {self.old_import!r} has no attribute {name!r}"
            )
        return getattr(found, name)


def redirect_moved_modules():
    """Registers every entry of ``MOVED_MODULES`` (called by the package)."""
    package = sys.modules[PACKAGE]
    for old, new_modules in MOVED_MODULES.items():
        redirect = MovedModule(f"{PACKAGE}.{old}", new_modules)
        sys.modules.setdefault(redirect.old_import, redirect)
        if not hasattr(package, old):
            setattr(package, old, redirect)


def moved_names(subpackage):
    """The module ``__getattr__`` of a subpackage that was a module.

    Arguments
    ---------
    subpackage : str
        The subpackage's name under the package, a key of
        ``MOVED_INTO_SUBPACKAGE``.

    Returns
    -------
    callable
        ``__getattr__(name)``: the name from its new module, with a
        ``DeprecationWarning``.

    Example
    -------
    >>> import pytest
    >>> import speechbrain_mmspeech.lobes as lobes
    >>> with pytest.deprecated_call():
    ...     lobes.MMSpeechEncoder.__module__
    'speechbrain_mmspeech.lobes.wrappers'
    """
    new_modules = MOVED_INTO_SUBPACKAGE[subpackage]

    def __getattr__(name):
        found = None if name.startswith("__") else _find(name, new_modules)
        if found is None:
            raise AttributeError(
                f"module '{PACKAGE}.{subpackage}' has no attribute {name!r}"
            )
        _warn(
            f"{PACKAGE}.{subpackage}.{name}",
            f"{found.__name__}.{name}",
            stacklevel=2,
        )
        return getattr(found, name)

    return __getattr__
