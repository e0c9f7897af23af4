"""Tests of the blocks shared by the encoder and the decoder.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch

from speechbrain_mmspeech.nnet.layers import DropPath


def test_drop_path_module():
    torch.manual_seed(0)
    drop = DropPath(0.5).train()
    out = drop(torch.ones(1000, 3))
    kept = out[:, 0] > 0
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert (out == out[:, :1]).all()  # whole rows are dropped
    assert 0.4 < kept.float().mean() < 0.6
    assert torch.equal(drop.eval()(torch.ones(4, 3)), torch.ones(4, 3))
