"""The report page of two evaluations in Debian's chromium (headless): it renders without console
errors and every picture it references loads."""
import json
import re
import shutil
import subprocess
import tempfile

import pytest
from test_report import make_run, referenced_files

from wsss.analysis.report import build_report


def chromium() -> str:
    return shutil.which('chromium') or shutil.which('chromium-browser') or ''


HARNESS = """<!DOCTYPE html><html><body><iframe id="page" src="{src}" width="1200"></iframe>
<script>
document.getElementById('page').onload = function () {{
  var images = this.contentDocument.images, broken = [];
  for (var i = 0; i < images.length; i++)
    if (!images[i].complete || images[i].naturalWidth === 0) broken.push(images[i].src);
  var out = document.createElement('pre');
  out.id = 'result';
  out.textContent = JSON.stringify({{images: images.length, broken: broken}});
  document.body.appendChild(out);
}};
</script></body></html>"""


@pytest.mark.skipif(not chromium(), reason='no chromium here (Debian: apt-get install chromium)')
def test_report_renders_in_a_headless_browser(tmp_path):
    page = build_report([make_run(str(tmp_path), 'coarse', 2),
                         make_run(str(tmp_path), 'fine', 1)], str(tmp_path / 'report'), images=2)
    harness = tmp_path / 'harness.html'
    harness.write_text(HARNESS.format(src='file://' + page))
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [chromium(), '--headless', '--no-sandbox', '--disable-gpu',
             '--disable-background-networking', '--no-first-run', '--disable-component-update',
             '--disable-sync', f'--user-data-dir={profile}', '--allow-file-access-from-files',
             '--enable-logging=stderr', '--v=0', '--virtual-time-budget=5000', '--dump-dom',
             'file://' + str(harness)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(re.search(r'<pre id="result">(.*?)</pre>', out.stdout).group(1))
    assert result == dict(images=len(referenced_files(page)), broken=[])
    console = [line for line in out.stderr.splitlines() if 'CONSOLE' in line]
    assert not console, console
