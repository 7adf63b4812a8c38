# CLIP-ES (Lin et al., CVPR 2023): frozen CLIP ViT-B/16, softmax-GradCAM + CAA, training-free.
model = dict(
    type='CLIPCAMModel',
    data_preprocessor=dict(type='BaseDataPreprocessor'),
    # 'openai': $WSSS_WEIGHTS_DIR/ViT-B-16.pt if there, else it is downloaded; or a local
    # file: clip.pretrained=PATH
    clip=dict(name='ViT-B-16', pretrained='openai'),
    template='a clean origami {}.',
    num_attn_layers=8,   # CAA: attention of the last 8 of 12 blocks
    caa=True,
    sinkhorn_iters=3,
    box_threshold=0.4,
    seeder=dict(type='ArgmaxSeeder', bg_power=1.0),
    # compute what the released code computes: its box rule, its prompt names ('diningtable',
    # 'pottedplant', COCO's 'sknowboard') and, with CRFSeeder, its CRF input (README: Fidelity);
    # the *_clean configs set False
    released=True)
