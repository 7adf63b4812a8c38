# CLIP-ES CAMs + CAA scored over SAM masks (SAMS, FMA-WSSS's seeder, background power 0.6) of
# your own photos. First the masks: python tools/sam_masks.py configs/custom/sam_vit-h_custom.py
_base_ = './clip-es_vit-b16_custom.py'
model = dict(seeder=dict(_delete_=True, type='SAMSSeeder', bg_power=0.6,
                         mask_dir='work_dirs/sam_vit-h_custom/sam_masks'))
