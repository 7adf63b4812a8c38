# The relevancy seeder (after Zabari & Hoshen, arXiv 2112.03185; no code or numbers published):
# frozen CLIP ViT-B/16, gradient-weighted attention relevancy (Chefer et al.) of each labelled
# class against its ViLD template-averaged text embedding, averaged over test-time augmentations;
# 3 clicks per class from the peaks of its map at half size; SAM ViT-H masks from the clicks;
# overlaps to the class of higher relevancy, uncovered pixels background. Every open point of the
# paper is a knob below, set to the project's choice (docs/relevancy.md §8, O-R1..O-R5).
model = dict(
    type='CLIPRelevancyModel',
    data_preprocessor=dict(type='BaseDataPreprocessor'),
    # 'openai': $WSSS_WEIGHTS_DIR/ViT-B-16.pt if there, else it is downloaded; or a local
    # file: clip.pretrained=PATH
    clip=dict(name='ViT-B-16', pretrained='openai'),
    # templates: ViLD's 14 (the default); the target is CLIP's logit 100*cos, no softmax
    start_block=-1,          # relevancy rollout over the last block only; 0 = all blocks
    scales=(224, 336),       # TTA: whole image resized to s x s, no crop ...
    flips=(False, True),     # ... each as is and flipped horizontally: 4 passes averaged
    seeder=dict(
        type='RelevancySeeder',
        # the released file, found in $WSSS_WEIGHTS_DIR or torch hub's cache, else downloaded;
        # offline: model.seeder.sam.checkpoint=PATH
        sam=dict(model_type='vit_h', checkpoint='sam_vit_h_4b8939.pth'),
        num_clicks=3,        # positive clicks per class, multimask_output=False
        click_factor=0.5))   # peaks searched on the map resized by 0.5 (3x3 max-pool)
# Images go in at their own size: the model makes the TTA views itself. A bad image is listed in
# failed.json and skipped.
relevancy_pipeline = [dict(type='LoadImage', record_errors=True), dict(type='PackWSSSInputs')]
