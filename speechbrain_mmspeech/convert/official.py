"""The names in the official MMSpeech releases, and how ours map to them.

- The files of a ModelScope model folder.
- Tensor names: ours are the ModelScope names; the HF state dict may carry a
  ``model.`` prefix, and fairseq names five decoder-layer modules
  differently (``FAIRSEQ_RENAMES``).
- Tensors the checkpoints carry but ASR never uses (OFA's image position
  tables, wav2vec 2.0's ``final_proj``, an unused phone LayerNorm, the
  decoder's ``code_layernorm_embedding``, which OFA applies to image-code
  positions only and the released training scripts switch on). Our
  model does not build them; ``unused_official_tensors`` lists their names
  and shapes, so that the converter skips exactly these and nothing else,
  and so that parameter counts can be compared with the published model
  sizes (Base 210.97M, Large 608.95M).
- Buffers the checkpoints save and our model recomputes, and the tied
  output projection.

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain_mmspeech.convert.reading import ConversionError

# Files of a ModelScope model folder (damo/ofa_mmspeech_*).
CONFIG_FILE = "config.json"
CONFIGURATION_FILE = "configuration.json"
WEIGHTS_FILE = "pytorch_model.bin"
VOCAB_FILE = "vocab.txt"
PHONE_DICT_FILE = "phone_dict.txt"
FBANK_CONFIG_FILE = "fbank_config.yaml"
MODELSCOPE_FILES = (
    CONFIG_FILE,
    CONFIGURATION_FILE,
    WEIGHTS_FILE,
    VOCAB_FILE,
    PHONE_DICT_FILE,
    FBANK_CONFIG_FILE,
)

MODELSCOPE_PREFIX = "model."
# fairseq module names -> ModelScope names, inside decoder.layers.N.
FAIRSEQ_RENAMES = {
    "self_attn_ln": "self_attn_mid_layer_norm",
    "encoder_attn": "cross_attn",
    "encoder_attn_layer_norm": "cross_attn_layer_norm",
    "cross_attn_ln": "cross_attn_mid_layer_norm",
    "ffn_layernorm": "ffn_layer_norm",
}
DECODER_LAYER_PREFIX = ("decoder", "layers")
# Buffers the official models save but our model recomputes.
RECOMPUTED_BUFFERS = (
    "version",
    "token_rp_bucket",
    "image_rp_bucket",
    "image_position_idx",
)
TOKEN_BUCKETS_KEY = "decoder.token_rp_bucket"
# The decoder's output projection is its token embedding matrix (tied).
TIED_WEIGHTS = {
    "decoder.output_projection.weight": "decoder.embed_tokens.weight"
}
EMBED_TOKENS_KEY = TIED_WEIGHTS["decoder.output_projection.weight"]
PHONE_TABLE_KEY = "encoder.phone_item_embedding.weight"
# OFA's image positions: a 42 x 42 grid.
IMAGE_BUCKET_SIZE = 42
# OFA builds the token relative-position buckets for 1024 positions,
# whatever max_target_positions is (make_token_bucket_position's default).
REL_POS_MAX_POSITIONS = 1024


def unused_official_tensors(d_model, nhead, num_decoder_layers):
    """Names and shapes of official tensors that ASR does not use.

    Arguments
    ---------
    d_model : int
        Model size (768 Base, 1024 Large).
    nhead : int
        Decoder attention heads.
    num_decoder_layers : int
        Decoder layers.

    Returns
    -------
    dict
        ``{state_dict_key: shape}`` in the ModelScope naming.

    Example
    -------
    >>> shapes = unused_official_tensors(768, 12, 6)
    >>> shapes["decoder.embed_image_positions.weight"]
    (1765, 768)
    """
    image_positions = IMAGE_BUCKET_SIZE**2 + 1
    image_buckets = (2 * IMAGE_BUCKET_SIZE - 1) ** 2 + 3
    shapes = {
        "encoder.final_proj.weight": (d_model, d_model),
        "encoder.final_proj.bias": (d_model,),
        "encoder.encoder.phone_layer_norm.weight": (d_model,),
        "encoder.encoder.phone_layer_norm.bias": (d_model,),
        "decoder.code_layernorm_embedding.weight": (d_model,),
        "decoder.code_layernorm_embedding.bias": (d_model,),
        "decoder.embed_image_positions.weight": (image_positions, d_model),
        "decoder.image_pos_ln.weight": (d_model,),
        "decoder.image_pos_ln.bias": (d_model,),
    }
    for layer in range(num_decoder_layers):
        key = f"decoder.image_rel_pos_table_list.{layer}.weight"
        shapes[key] = (image_buckets, nhead)
    return shapes


def strip_modelscope_prefix(state):
    """Removes the HF ``model.`` prefix from the keys that carry it.

    Arguments
    ---------
    state : dict
        A ModelScope state dict.

    Returns
    -------
    dict
        The same tensors under unprefixed names.

    Example
    -------
    >>> list(strip_modelscope_prefix({"model.encoder.mask_emb": 0}))
    ['encoder.mask_emb']
    """
    stripped = {}
    for key, value in state.items():
        name = key.removeprefix(MODELSCOPE_PREFIX)
        if name in stripped:
            raise ConversionError(
                f"Tensor {name} appears with and without the "
                f"'{MODELSCOPE_PREFIX}' prefix"
            )
        stripped[name] = value
    return stripped


def rename_fairseq_key(key):
    """Maps a fairseq tensor name to its ModelScope name.

    Only the five decoder-layer modules of ``FAIRSEQ_RENAMES`` differ; every
    other name is shared by both layouts.

    Arguments
    ---------
    key : str
        A fairseq state-dict key.

    Returns
    -------
    str
        The ModelScope key.

    Example
    -------
    >>> rename_fairseq_key("decoder.layers.0.encoder_attn.q_proj.weight")
    'decoder.layers.0.cross_attn.q_proj.weight'
    >>> rename_fairseq_key("decoder.layers.3.ffn_layernorm.bias")
    'decoder.layers.3.ffn_layer_norm.bias'
    """
    parts = key.split(".")
    module = len(DECODER_LAYER_PREFIX) + 1
    if tuple(parts[: len(DECODER_LAYER_PREFIX)]) == DECODER_LAYER_PREFIX:
        if len(parts) > module and parts[module] in FAIRSEQ_RENAMES:
            parts[module] = FAIRSEQ_RENAMES[parts[module]]
    return ".".join(parts)
