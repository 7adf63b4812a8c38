"""tools/select_prompts.py on the tiny VOC tree with a tiny random CLIP: every template ranked by
sharpness, over the images with several classes."""
import json
import re

from test_select_prompts import TEMPLATES, TINY


def test_select_prompts_tool(voc_root, tmp_path, tool_here):
    cfg = tmp_path / 'tiny.json'
    cfg.write_text(json.dumps(TINY))
    templates = tmp_path / 'templates.txt'
    templates.write_text('# candidates\n' + '\n'.join(TEMPLATES) + '\n\n')
    result = tool_here('tools/select_prompts.py', '--dataset', 'voc12', '--data-root', voc_root,
                      '--split', 'train', '--templates-file', str(templates),
                      '--clip-model-cfg', str(cfg), '--clip-pretrained', 'none',
                      '--device', 'cpu', '--short-side', '48')
    assert result.returncode == 0, result.stderr
    rows = re.findall(r'^\s*(\d+)\s+(.+?)\s+(\d+\.\d+)\s+(\d+)$', result.stdout, re.M)
    assert sorted(r[1] for r in rows) == sorted(TEMPLATES)
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    values = [float(r[2]) for r in rows]
    assert values == sorted(values)
    assert {r[3] for r in rows} == {'1'}  # img_a (cat, person); img_b has one class
