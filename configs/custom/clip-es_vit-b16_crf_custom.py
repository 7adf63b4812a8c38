# CLIP-ES seeds with the dense CRF and the confidence-guided 255s, of your own photos (needs the
# crf extra). See clip-es_vit-b16_custom.py for making your own config from it.
_base_ = './clip-es_vit-b16_custom.py'
model = dict(seeder=dict(_delete_=True, type='CRFSeeder', bg_power=1.0,
                         confidence_threshold=0.95, iters=10))
