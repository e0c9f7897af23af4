"""Speakers of mini-AISHELL and the per-utterance randomness they draw.

Each speaker is a fixed (espeak-ng voice variant, speed, pitch) triple; each
utterance gets a small speed and pitch jitter, silent margins, a noise SNR
and colour, and a peak level, all drawn up front into an ``UtteranceJob``
seeded from ``(seed, utterance id)``, so that rendering order does not
matter.

Authors
 * MMSpeech plugin contributors 2026
"""

import dataclasses

import numpy as np

from speechbrain_mmspeech.mini_aishell.layout import UNPAIRED

# Voice variants (espeak-ng-data/voices/!v) that keep the nominal speaking
# rate and produce voiced speech (so tones survive). Excluded: whisper*
# and announcer (unvoiced), Demonic/Marco/AnxiousAndy (slowed down),
# robosoft*/anika*/Andrea/pedro/antonio/RicishayMax2-3/UniRobot (change the
# speaking rate). The train, dev and test speakers use VOICE_VARIANTS, 50 of
# them: each training speaker has a variant of its own (50 speakers), and
# dev and test speakers draw among them, so that the test's voices were
# heard in training (at another speed and pitch). UNSEEN_VOICE_VARIANTS
# are heard only in the unseen-voice test, and DEV_UNSEEN_VOICE_VARIANTS
# only in its dev counterpart (5 of the 19 other usable variants, drawn by
# random.Random(0).sample); both read at speeds and pitches outside the
# training ranges. The other 14 usable variants (croak, ed, fast, Gene2,
# iven4, max, miguel, norbert, pablo, quincy, sandro, travis, Tweaky,
# victor) are not used.
VOICE_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8",
    "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4",
    "Annie", "aunty", "belinda", "benjamin", "grandma", "grandpa", "linda",
    "steph", "Andy", "john", "paul", "edward", "gustave", "iven",
    "klatt6", "steph3", "edward2", "iven2", "Alex", "Denis", "Gene", "Hugo",
    "Lee", "Mario", "Michael", "Mike", "Nguyen", "RicishayMax", "adam",
    "caleb", "david", "kaukovalta", "marcelo",
)  # fmt: skip
UNSEEN_VOICE_VARIANTS = (
    "Alicia", "Henrique", "Jacky", "Storm", "boris", "iven3", "klatt5",
    "michel", "steph2", "zac",
)  # fmt: skip
DEV_UNSEEN_VOICE_VARIANTS = ("Diogo", "Mr", "rob", "robert", "shelby")
SPEED_RANGE_WPM = (160, 220)  # espeak -s; one pinyin syllable is one "word"
PITCH_RANGE = (25, 75)  # espeak -p, 0..99
# The unseen-voice speakers: slower or faster, lower or higher.
UNSEEN_SPEED_RANGES_WPM = ((140, 155), (225, 240))
UNSEEN_PITCH_RANGES = ((10, 20), (80, 90))
SPEED_JITTER = 0.05  # relative, per utterance
PITCH_JITTER = 4  # absolute, per utterance
MARGIN_RANGE_S = (0.05, 0.25)  # silence kept before/after the speech
NOISE_SPECTRAL_SLOPE_RANGE = (0.0, 1.5)  # 0 white, 1 pink, 2 brown


@dataclasses.dataclass(frozen=True)
class SpeakerStyle:
    """A synthetic speaker: an espeak-ng voice variant, speed and pitch.

    Arguments
    ---------
    variant : str
        espeak-ng voice variant (``voices/!v/<variant>``).
    speed : int
        Speaking rate, espeak ``-s`` (words, i.e. syllables, per minute).
    pitch : int
        Base pitch, espeak ``-p`` (0 to 99).

    Example
    -------
    >>> SpeakerStyle("f2", 180, 50).variant
    'f2'
    """

    variant: str
    speed: int
    pitch: int


@dataclasses.dataclass(frozen=True)
class UtteranceJob:
    """Everything needed to render one utterance, randomness already drawn.

    Arguments
    ---------
    utt_id : str
        Utterance id, e.g. ``BAC009S0002W0121``.
    pinyin : str
        Space-separated tone-numbered pinyin given to espeak-ng.
    voice : SpeakerStyle
        The speaker's style, with this utterance's speed and pitch jitter.
    margins_s : tuple of float
        Silence kept before and after the speech, in seconds.
    snr_db : float
        Signal-to-noise ratio of the additive noise.
    noise_slope : float
        Spectral slope of the noise (0 white, 1 pink, 2 brown).
    peak_dbfs : float
        Peak level of the output.
    noise_seed : int
        Seed of the noise generator.

    Example
    -------
    >>> voice = SpeakerStyle("m1", 180, 50)
    >>> job = UtteranceJob(
    ...     "U1", "ni3 hao3", voice, (0.1, 0.1), 20.0, 1.0, -3.0, 0
    ... )
    >>> job.voice.variant
    'm1'
    """

    utt_id: str
    pinyin: str
    voice: SpeakerStyle
    margins_s: tuple
    snr_db: float
    noise_slope: float
    peak_dbfs: float
    noise_seed: int


@dataclasses.dataclass(frozen=True)
class SpeakerTask:
    """One speaker's utterances to render, the unit of parallel work.

    Arguments
    ---------
    split : str
        ``train``, ``dev``, ``test`` or ``unpaired``.
    spk_id : str
        Speaker id, e.g. ``S0002``.
    jobs : tuple of UtteranceJob
        The speaker's utterances.

    Example
    -------
    >>> SpeakerTask("train", "S0002", ()).spk_id
    'S0002'
    """

    split: str
    spk_id: str
    jobs: tuple


def draw_speaker_styles(
    n_speakers,
    rng,
    variants=VOICE_VARIANTS,
    speed_ranges=(SPEED_RANGE_WPM,),
    pitch_ranges=(PITCH_RANGE,),
    spread_variants=False,
    cover_ranges=False,
):
    """Draws distinct (variant, speed, pitch) speaker styles.

    Arguments
    ---------
    n_speakers : int
        Number of speakers.
    rng : numpy.random.Generator
        Random generator.
    variants : sequence of str
        The espeak-ng voice variants to draw from.
    speed_ranges : sequence of (int, int)
        Inclusive speed ranges (espeak ``-s``); one is drawn, then a speed.
    pitch_ranges : sequence of (int, int)
        Inclusive pitch ranges (espeak ``-p``), drawn likewise.
    spread_variants : bool
        Give the speakers the variants in a random order, each once before
        any is used twice (else each speaker draws one).
    cover_ranges : bool
        Give the speakers the (speed range, pitch range) pairs in turn, so
        that a few speakers cover them all (else each speaker draws its
        ranges).

    Returns
    -------
    list of SpeakerStyle
        ``n_speakers`` distinct styles.

    Example
    -------
    >>> styles = draw_speaker_styles(3, np.random.default_rng(0))
    >>> len(set(styles))
    3
    >>> outside = (
    ...     UNSEEN_VOICE_VARIANTS,
    ...     UNSEEN_SPEED_RANGES_WPM,
    ...     UNSEEN_PITCH_RANGES,
    ... )
    >>> unseen = draw_speaker_styles(4, np.random.default_rng(0), *outside)
    >>> any(s.variant in VOICE_VARIANTS for s in unseen)
    False
    >>> any(PITCH_RANGE[0] <= s.pitch <= PITCH_RANGE[1] for s in unseen)
    False
    >>> spread = draw_speaker_styles(
    ...     len(VOICE_VARIANTS), np.random.default_rng(0), spread_variants=True
    ... )
    >>> len({s.variant for s in spread}) == len(VOICE_VARIANTS)
    True
    >>> covering = draw_speaker_styles(
    ...     4, np.random.default_rng(0), *outside, cover_ranges=True
    ... )
    >>> [(s.speed > 200, s.pitch > 50) for s in covering]
    [(False, False), (False, True), (True, False), (True, True)]
    """

    def draw(ranges, turn=None):
        index = int(rng.integers(len(ranges)))
        if turn is not None:
            index = turn % len(ranges)
        low, high = ranges[index]
        return int(rng.integers(low, high + 1))

    order = [str(v) for v in rng.permutation(variants)]
    styles, seen = [], set()
    while len(styles) < n_speakers:
        variant = str(rng.choice(variants))
        if spread_variants:
            variant = order[len(styles) % len(order)]
        pitch_turn = speed_turn = None
        if cover_ranges:
            pitch_turn = len(styles)
            speed_turn = len(styles) // len(pitch_ranges)
        style = SpeakerStyle(
            variant=variant,
            speed=draw(speed_ranges, speed_turn),
            pitch=draw(pitch_ranges, pitch_turn),
        )
        if style not in seen:
            seen.add(style)
            styles.append(style)
    return styles


def corpus_speaker_styles(n_speakers, rng):
    """The speakers of a mini-AISHELL corpus, in the order they are drawn.

    Every training speaker has a variant of its own (``spread_variants``);
    the speakers of the other splits draw among the same variants, so that
    the test's voices were heard in training. ``generator.draw_corpus``
    draws them, for the generator and for the hotword test alike.

    Arguments
    ---------
    n_speakers : dict
        Split name -> number of speakers, ``"train"`` first.
    rng : numpy.random.Generator
        Random generator, in the state the generator leaves it after the
        sentence split.

    Returns
    -------
    list of SpeakerStyle
        One per speaker, split after split in the order of ``n_speakers``.

    Example
    -------
    >>> styles = corpus_speaker_styles(
    ...     {"train": 3, "dev": 1}, np.random.default_rng(0)
    ... )
    >>> len(styles), len({s.variant for s in styles[:3]})
    (4, 3)
    """
    n_train = n_speakers["train"]
    n_others = sum(n_speakers.values()) - n_train
    return draw_speaker_styles(
        n_train, rng, spread_variants=True
    ) + draw_speaker_styles(n_others, rng)


def make_job(utt_id, sentence, style, seed, snr_range_db, gain_range_db):
    """Draws the per-utterance randomness and returns the job to render.

    The generator is seeded from ``(seed, utt_id)``, so a job does not depend
    on the order in which jobs are made or rendered.

    Arguments
    ---------
    utt_id : str
        Utterance id.
    sentence : Sentence
        What is said.
    style : SpeakerStyle
        Who says it.
    seed : int
        Global seed.
    snr_range_db : tuple of float
        SNR range of the additive noise.
    gain_range_db : tuple of float
        Range of the output peak level, in dBFS.

    Returns
    -------
    UtteranceJob
        The job.

    Example
    -------
    >>> from speechbrain_mmspeech.mini_aishell.text import Sentence
    >>> s = Sentence(("你好",), ("ni3", "hao3"))
    >>> job = make_job(
    ...     "U1", s, SpeakerStyle("m1", 180, 50), 0, (10, 20), (-6, -1)
    ... )
    >>> job.pinyin, job.voice.variant
    ('ni3 hao3', 'm1')
    """
    entropy = [seed, *utt_id.encode("utf-8")]
    rng = np.random.default_rng(np.random.SeedSequence(entropy))
    speed = style.speed * (1 + rng.uniform(-SPEED_JITTER, SPEED_JITTER))
    pitch = style.pitch + rng.integers(-PITCH_JITTER, PITCH_JITTER + 1)
    return UtteranceJob(
        utt_id=utt_id,
        pinyin=" ".join(sentence.pinyin),
        voice=SpeakerStyle(
            style.variant, int(round(speed)), int(np.clip(pitch, 0, 99))
        ),
        margins_s=tuple(float(m) for m in rng.uniform(*MARGIN_RANGE_S, 2)),
        snr_db=float(rng.uniform(*snr_range_db)),
        noise_slope=float(rng.uniform(*NOISE_SPECTRAL_SLOPE_RANGE)),
        peak_dbfs=float(rng.uniform(*gain_range_db)),
        noise_seed=int(rng.integers(2**31)),
    )


def build_tasks(plan, sentences, styles, seed, snr_range_db, gain_range_db):
    """Pairs speakers with their style and sentences, one task per speaker.

    Arguments
    ---------
    plan : dict
        Split name -> list of (spk_id, list of utt_id), see ``plan_speakers``.
    sentences : dict
        Split name -> list of Sentence, one per utterance of the split.
    styles : list of SpeakerStyle
        One style per speaker, in plan order.
    seed, snr_range_db, gain_range_db : int, tuple of float, tuple of float
        As in :func:`make_job`.

    Returns
    -------
    tasks : list of SpeakerTask
        One task per speaker, in plan order.
    transcripts : dict
        Utterance id -> transcript, for the transcribed splits.

    Example
    -------
    >>> from speechbrain_mmspeech.mini_aishell.layout import plan_speakers
    >>> from speechbrain_mmspeech.mini_aishell.text import Sentence
    >>> plan = plan_speakers({"train": 1}, 1)
    >>> sentences = {"train": [Sentence(("你好",), ("ni3", "hao3"))]}
    >>> styles = [SpeakerStyle("m1", 180, 50)]
    >>> tasks, transcripts = build_tasks(
    ...     plan, sentences, styles, 0, (20, 30), (-6, -1)
    ... )
    >>> transcripts
    {'BAC009S0002W0121': '你好'}
    """
    tasks, transcripts, styles = [], {}, iter(styles)
    for split, speakers in plan.items():
        texts = iter(sentences[split])
        for spk, utts in speakers:
            style, jobs = next(styles), []
            for utt in utts:
                sentence = next(texts)
                if split != UNPAIRED:
                    transcripts[utt] = sentence.transcript
                job = make_job(
                    utt, sentence, style, seed, snr_range_db, gain_range_db
                )
                jobs.append(job)
            tasks.append(SpeakerTask(split, spk, tuple(jobs)))
    return tasks, transcripts
