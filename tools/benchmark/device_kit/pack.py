"""Pack the device benchmark kit: one tarball (< 64 MiB) that runs on a machine with only
Python, torch and a GPU, and no registry.

    python tools/benchmark/device_kit/pack.py                     # Python 3.12, torch 2.11
    python tools/benchmark/device_kit/pack.py --python-version 3.11 --torchvision '0.28.*' \
        --out /tmp/kit.tar.gz                                     # a local torch 2.13 check

There:  tar xzf device_kit.tar.gz && bash device_kit/run.sh bench_sam.py [options]
        bash device_kit/run.sh bench_clip.py [options]

Inside: the benchmark scripts; wsss's torch-only modules (the SAM generator and builder, the
CLIP dense encoder, the CAM functions, the measuring tools of wsss.utils.benchmark), with empty
package ``__init__`` files in place of wsss's, which register mmengine models; and the wheels
they import, fetched with ``pip download --only-binary=:all:`` for the target's Python
(segment-anything, open_clip and its tokenizer's ftfy / wcwidth / regex / tqdm, torchvision of
the target's torch, pillow, numpy, pycocotools).
run.sh installs the wheels into ./site without an index (pip, or unzipped where there is no pip)
and runs a benchmark with the GPU's torch.
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
KIT = osp.dirname(osp.abspath(__file__))
SCRIPTS = ('bench_sam.py', 'bench_clip.py')
MODULES = ('wsss/__init__.py', 'wsss/models/sam/generator.py', 'wsss/models/sam/build.py',
           'wsss/models/clip_es/cam.py', 'wsss/models/clip/encoder.py', 'wsss/utils/benchmark.py')
EMPTY_INITS = ('wsss/models/__init__.py', 'wsss/models/sam/__init__.py',
               'wsss/models/clip/__init__.py', 'wsss/models/clip_es/__init__.py',
               'wsss/utils/__init__.py')
WHEELS = ('segment_anything', 'pillow', 'numpy<3', 'pycocotools', 'open_clip_torch', 'ftfy',
          'wcwidth', 'regex', 'tqdm')
LIMIT = 64 * 2 ** 20
RUN = '''#!/bin/bash
# bash run.sh bench_sam.py|bench_clip.py [options]: installs the wheels beside this file into
# ./site once (no index; where this machine's Python has no pip, the wheels are unpacked as the
# zip files they are), then runs the benchmark with this machine's torch.
set -e
cd "$(dirname "$0")"
if [ ! -d site ]; then  # into site.tmp first: an install cut short is redone on the next run
  rm -rf site.tmp
  if python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --target site.tmp wheels/*.whl
  else
    python3 -c "import glob, zipfile
for wheel in sorted(glob.glob('wheels/*.whl')):
    zipfile.ZipFile(wheel).extractall('site.tmp')"
  fi
  mv site.tmp site
fi
PYTHONPATH="$PWD:$PWD/site" exec python3 "$@"
'''


def download(folder: str, python_version: str, torchvision: str) -> None:
    platforms = []
    for tag in ('manylinux2014_x86_64', 'manylinux_2_17_x86_64', 'manylinux_2_28_x86_64'):
        platforms += ['--platform', tag]
    subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps',
                    '--only-binary=:all:', '--python-version', python_version, *platforms,
                    '-d', folder, f'torchvision=={torchvision}', *WHEELS], check=True)


def assemble(kit: str) -> None:
    """The kit's files but the wheels, into the folder ``kit``."""
    os.makedirs(kit, exist_ok=True)
    for script in SCRIPTS:
        shutil.copy(osp.join(KIT, script), kit)
    for module in MODULES:
        os.makedirs(osp.dirname(osp.join(kit, module)), exist_ok=True)
        shutil.copy(osp.join(ROOT, module), osp.join(kit, module))
    for init in EMPTY_INITS:
        with open(osp.join(kit, init), 'w') as f:
            f.write('"""wsss\'s torch-only modules, without the mmengine registrations."""\n')
    with open(osp.join(kit, 'run.sh'), 'w') as f:
        f.write(RUN)


def pack(out: str, python_version: str, torchvision: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        kit = osp.join(tmp, 'device_kit')
        assemble(kit)
        download(osp.join(kit, 'wheels'), python_version, torchvision)
        with tarfile.open(out, 'w:gz') as tar:
            tar.add(kit, 'device_kit')
    size = os.path.getsize(out)
    print(f'{out}: {size / 2 ** 20:.1f} MiB')
    if size > LIMIT:
        print(f'error: over {LIMIT / 2 ** 20:.0f} MiB', file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='device_kit.tar.gz')
    parser.add_argument('--python-version', default='3.12', help="the target's Python")
    parser.add_argument('--torchvision', default='0.26.*',
                        help="the torchvision of the target's torch (0.26: torch 2.11)")
    args = parser.parse_args()
    return pack(args.out, args.python_version, args.torchvision)


if __name__ == '__main__':
    sys.exit(main())
