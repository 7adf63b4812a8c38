# FMA-WSSS (Yang & Gong, WACV 2024): CLIP-ES's CAMs with learned CoOp prompts over a frozen CLIP
# ViT-B/16; prompt layout per (dataset, stage) from wsss.models.fma.prompts.FMA_PROMPT_SETTINGS.
model = dict(
    type='FMAPromptModel',
    data_preprocessor=dict(type='BaseDataPreprocessor'),
    clip=dict(name='ViT-B-16', pretrained='openai'),
    prompts=dict(n_ctx=16),  # ctx_std per (dataset, stage): FMA_PROMPT_SETTINGS
    num_attn_layers=8,
    caa=True,
    sinkhorn_iters=1,    # the final VOC configs use 1 round (CLIP-ES: 3)
    box_threshold=0.4,   # 0.4 classification stage, 0.5 segmentation stage
    # compute what the released code computes: its box rule and prompt names, and per (dataset,
    # stage) its CAA on the raw CAM and its crop labels (wsss.models.fma.model.FMA_RELEASED;
    # README: Fidelity); the clean pipeline sets False
    released=True)
