"""Chinese text to the MMSpeech pinyin phones read by the speech encoder.

``PinyinTokenizer`` turns Chinese text into the 120 MMSpeech phones (pinyin
initials, tonal nuclei and the coda ``ng``; the phonology is
``speechbrain_mmspeech.pinyin``), 141 ids in all, in the layout of the
official ``phone_dict.txt`` after the fairseq specials
(``speechbrain_mmspeech.tokenizers.symbols``). It is a SpeechBrain
checkpoint object (``Checkpointer`` recoverable and ``Pretrainer`` loadable)
and can be created from HyperPyYAML with no arguments.

Authors
 * MMSpeech plugin contributors 2026
"""

from collections import Counter
from pathlib import Path

import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    mark_as_transfer,
    register_checkpoint_hooks,
)

from speechbrain_mmspeech import pinyin
from speechbrain_mmspeech.pinyin import build_phone_inventory
from speechbrain_mmspeech.text import split_clauses
from speechbrain_mmspeech.tokenizers.symbols import (
    CTC_BLANK_INDEX,
    FAIRSEQ_SPECIALS,
    MASK_TOKEN,
    PHONE_OFFSET,
    SymbolTable,
    _to_int_list,
)

FIRST_FILLER, LAST_FILLER = 2, 17
FILLER_SYMBOLS = tuple(f"#{k}" for k in range(FIRST_FILLER, LAST_FILLER + 1))


def default_phone_dict_symbols():
    """Lists the 137 symbols of the official phone_dict.txt, in order.

    Returns
    -------
    list of str
        The 120 phones, ``<mask>`` and the fillers ``#2`` .. ``#17``.

    Example
    -------
    >>> symbols = default_phone_dict_symbols()
    >>> len(symbols), symbols[120], symbols[-1]
    (137, '<mask>', '#17')
    """
    return [*build_phone_inventory(), MASK_TOKEN, *FILLER_SYMBOLS]


@register_checkpoint_hooks
class PinyinTokenizer(SymbolTable):
    """Chinese text to MMSpeech phones (initial, tonal nucleus, coda).

    The default inventory is the official one (141 ids): the fairseq
    specials, the 120 phones at ids 4-123, ``<mask>`` at 124 and the unused
    fillers ``#2`` .. ``#17`` at 125-140. Text is normalised with
    ``speechbrain_mmspeech.text`` (numbers read in Chinese; punctuation and
    symbols, emoji included, removed), each clause is converted with
    pypinyin in phrase context (polyphones) and without tone sandhi, and
    Latin letters use ``pinyin.LETTER_READINGS``. Characters without a pronunciation (other
    scripts, Han characters unknown to pypinyin) are dropped and counted in
    ``dropped_chars``, like the official lexicon lookup drops them.

    The CTC view used by the phone head: class = id - 3 for ids 3..123, so
    class 0 (the ``<unk>`` row) is the blank and there are 121 classes.

    Arguments
    ---------
    phone_dict_symbols : list of str, optional
        The symbols after the fairseq specials, in phone_dict.txt order;
        the phones must come first, followed by ``<mask>``. Defaults to the
        official inventory.

    Example
    -------
    >>> tokenizer = PinyinTokenizer()
    >>> len(tokenizer)
    141
    >>> tokenizer.text_to_phones("银行")
    ['y', 'i2', 'n', 'h', 'a2', 'ng']
    >>> ids = tokenizer.encode_as_ids("北京")
    >>> tokenizer.decode_ids(ids)
    'b ei3 j i1 ng'
    >>> tokenizer.ids_to_ctc_targets(ids)
    [16, 27, 61, 36, 66]
    """

    ctc_blank_index = CTC_BLANK_INDEX
    separator = " "  # decode_ids writes the phones with spaces between

    def __init__(self, phone_dict_symbols=None):
        if phone_dict_symbols is None:
            phone_dict_symbols = default_phone_dict_symbols()
        super().__init__(phone_dict_symbols)
        self.dropped_chars = Counter()

    def _set_tokens(self, tokens):
        """Replaces the inventory; phones run from id 4 up to ``<mask>``."""
        super()._set_tokens(tokens)
        if self.mask_index is None:
            raise ValueError(f"A phone inventory needs {MASK_TOKEN}")

    @property
    def phone_offset(self):
        """The id of the first phone (4)."""
        return PHONE_OFFSET

    @property
    def num_phones(self):
        """The number of phones (120 for the official inventory)."""
        return self.mask_index - self.phone_offset

    @property
    def ctc_offset(self):
        """What to subtract from a phone id to get its CTC class (3)."""
        return self.unk_index - self.ctc_blank_index

    @property
    def num_ctc_classes(self):
        """The number of CTC classes: the blank and the phones (121)."""
        return self.num_phones + 1

    @classmethod
    def from_phone_dict(cls, path):
        """Builds a tokenizer from a phone_dict.txt (``symbol count`` lines).

        Arguments
        ---------
        path : str or Path
            An inventory file in the official phone_dict.txt format.

        Returns
        -------
        PinyinTokenizer
            A tokenizer with that inventory after the fairseq specials.
        """
        tokenizer = cls()
        tokenizer.load(path)
        return tokenizer

    def text_to_phones(self, text):
        """Converts a text to MMSpeech phones.

        Arguments
        ---------
        text : str
            A raw transcript (punctuation marks clause boundaries).

        Returns
        -------
        list of str
            The phones.

        Example
        -------
        >>> PinyinTokenizer().text_to_phones("3个A")
        ['s', 'a1', 'n', 'g', 'e4', 'ei1']
        """
        phones = []
        for clause in split_clauses(text):
            for char, _, char_phones in self.pronounce(clause):
                if char_phones is None:
                    self.dropped_chars[char] += 1
                else:
                    phones.extend(char_phones)
        return phones

    def text_to_tokens(self, text):
        """The phones of a text: ``text_to_phones``."""
        return self.text_to_phones(text)

    def pronounce(self, text):
        """Reads a text character by character: ``pinyin.pronounce``.

        ``text_to_phones`` normalises the text, then uses this.

        Arguments
        ---------
        text : str
            Characters to read (one clause, not normalised).

        Returns
        -------
        list of tuple
            ``(char, syllable, phones)`` per character.

        Example
        -------
        >>> PinyinTokenizer().pronounce("银行a⁇")
        [('银', 'yin2', ['y', 'i2', 'n']), ('行', 'hang2', ['h', 'a2', 'ng']), ('a', '', ['ei1']), ('⁇', '', None)]
        """
        return pinyin.pronounce(text)

    def ids_to_ctc_targets(self, ids):
        """Maps phone ids (4..) to CTC classes (1..); class 0 is the blank.

        Map each utterance before padding: any id that is not a phone id
        (padding included) raises ValueError.

        Arguments
        ---------
        ids : list of int or torch.Tensor
            Phone ids.

        Returns
        -------
        list of int or torch.Tensor
            The CTC classes, of the same kind as ``ids``.

        Example
        -------
        >>> PinyinTokenizer().ids_to_ctc_targets(torch.tensor([4, 123]))
        tensor([  1, 120])
        """
        self._check_phone_ids(ids)
        if isinstance(ids, torch.Tensor):
            return ids - self.ctc_offset
        return [index - self.ctc_offset for index in ids]

    def ctc_targets_to_ids(self, targets):
        """Maps CTC classes back to phone ids (the blank maps to ``<unk>``).

        Arguments
        ---------
        targets : list of int or torch.Tensor
            CTC classes in ``range(num_ctc_classes)``.

        Returns
        -------
        list of int or torch.Tensor
            The phone ids, of the same kind as ``targets``.

        Example
        -------
        >>> PinyinTokenizer().ctc_targets_to_ids([1, 120])
        [4, 123]
        """
        if isinstance(targets, torch.Tensor):
            return targets + self.ctc_offset
        return [target + self.ctc_offset for target in targets]

    def _check_phone_ids(self, ids):
        """Raises ValueError unless every id is a phone id."""
        first, last = self.phone_offset, self.phone_offset + self.num_phones
        if any(not first <= index < last for index in _to_int_list(ids)):
            raise ValueError(f"CTC targets need phone ids in [{first}, {last})")

    @mark_as_saver
    def save(self, path):
        """Writes the inventory in phone_dict.txt format (``symbol line``)."""
        symbols = self.tokens[len(FAIRSEQ_SPECIALS) :]
        lines = [f"{s} {line}" for line, s in enumerate(symbols, start=1)]
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")

    @mark_as_transfer
    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Reads an inventory in phone_dict.txt format."""
        del end_of_epoch  # The inventory does not depend on the epoch.
        text = Path(path).read_text(encoding="utf-8")
        symbols = [line.split(" ")[0] for line in text.split("\n") if line]
        self._set_tokens([*FAIRSEQ_SPECIALS, *symbols])
