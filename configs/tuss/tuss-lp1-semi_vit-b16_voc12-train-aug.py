# TUSS semi supervision's LP (§6): Y = GT fractions (labelled) and open-vocabulary scores
# (others), rescaled by semi_balance (r = 1) then bg_fg_balance 'eq'; α = 0.9; seeding over all
# classes without min-max; labelled rows keep their GT.
_base_ = ['./tuss-lp1_vit-b16_voc12-train-aug.py']
zero_shot = 'work_dirs/tuss-zero-shot-semi-1464_vit-b16_voc12-train-aug/seeds'
model = dict(embeddings_from=zero_shot, scores_from=zero_shot, semi_balance=1.,
             bg_fg_balance='eq', seeding=dict(norm=False))
