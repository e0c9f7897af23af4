"""Facts about the official MMSpeech checkpoints that our code relies on.

The released checkpoints carry tensors that ASR never uses (OFA's image
position tables, wav2vec 2.0's ``final_proj``, an unused phone LayerNorm).
Our model does not build them; this module lists their names and shapes, so
that a converter can skip exactly these and nothing else, and so that
parameter counts can be compared with the published model sizes
(Base 210.97M, Large 608.95M).

Authors
 * MMSpeech plugin contributors 2026
"""

IMAGE_BUCKET_SIZE = 42


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
        "decoder.embed_image_positions.weight": (image_positions, d_model),
        "decoder.image_pos_ln.weight": (d_model,),
        "decoder.image_pos_ln.bias": (d_model,),
    }
    for layer in range(num_decoder_layers):
        key = f"decoder.image_rel_pos_table_list.{layer}.weight"
        shapes[key] = (image_buckets, nhead)
    return shapes
