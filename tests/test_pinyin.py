"""Tests of the pinyin phonology (syllables to MMSpeech phones).

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain_mmspeech.pinyin import syllable_to_phones


def test_syllables_outside_the_inventory():
    assert syllable_to_phones("er5") == ["er2"]
    assert syllable_to_phones("hm5") == ["h", "m"]
    assert syllable_to_phones("zh") is None
    assert syllable_to_phones("abc!") is None
