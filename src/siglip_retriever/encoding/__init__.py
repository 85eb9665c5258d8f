"""The encoding layer: checkpoints and inputs in, L2-normalised vectors and scores out.

The bottom layer of the package; it imports no other layer. Its modules, one job each:

- :mod:`.presets`: named checkpoints and the facts they carry (data);
- :mod:`.images`: any image input -> an RGB picture; :mod:`.remote`: image URLs, within limits;
- :mod:`.texts`: texts made safe for tokenizers, hashes and storage;
- :mod:`.scores`: cosine similarities -> SigLIP's sigmoid or CLIP's softmax probabilities;
- :mod:`.loading`: ``from_pretrained``, device and dtype, int8, the process-wide model cache;
- :mod:`.pools`: the threads that decode images while the model runs;
- :mod:`.preparing`: images decoded and preprocessed for a checkpoint, without its model;
- :mod:`.encoder`: :class:`~siglip_retriever.encoding.encoder.SiglipEncoder`, batched encoding;
- :mod:`.queue`: :class:`~siglip_retriever.encoding.queue.EncodeQueue`, concurrent callers' encodes
  in shared forward passes (the web app's);
- :mod:`.backends`: other model families (open_clip) behind the same protocol.

Importing this package loads none of them.
"""
