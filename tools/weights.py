"""The pretrained weight files the shipped configs need: list them, check the local copies,
download the missing ones.

    python tools/weights.py list       [FILE ...] [--configs DIR]
    python tools/weights.py check      [FILE ...] [--configs DIR]
    python tools/weights.py download   [FILE ...] [--configs DIR]

For each file: its URL, the digest its URL or name carries (OpenAI's CLIP URLs a whole sha256,
torch hub / OpenMMLab names a sha256 prefix, SAM's names an md5 prefix: what can be verified
without another source), the configs and keys that name it and where it is looked for (the path a
config gives, $WSSS_WEIGHTS_DIR/<file>, torch hub's cache). ``check`` hashes the local copies and
exits 1 when a file is missing or does not match; ``download`` fetches the missing ones into the
cache (an offline machine: download elsewhere and copy them to $WSSS_WEIGHTS_DIR).
"""
import argparse
import glob
import os.path as osp
import sys
from typing import Dict, List

from wsss.utils.weights import (
    WeightFile,
    check_weights_file,
    download_cache_dir,
    find_weights,
    shipped_weights,
)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def config_files(folder: str) -> List[str]:
    """The configs under ``folder``, base files left out (the configs include them)."""
    files = glob.glob(osp.join(folder, '**', '*.py'), recursive=True)
    return sorted(f for f in files if '_base_' not in osp.relpath(f, folder).split(osp.sep))


def select(files: Dict[str, WeightFile], names: List[str]) -> Dict[str, WeightFile]:
    unknown = [n for n in names if n not in files]
    if unknown:
        raise SystemExit(f'error: no config names {unknown[0]}; the files are: '
                         f'{", ".join(files)}')
    return {n: files[n] for n in names} if names else files


def show(entry: WeightFile) -> None:
    if entry.digest:
        algorithm, hexd = entry.digest
        full = algorithm == 'sha256' and len(hexd) == 64
        digest = f'{algorithm} {hexd}' + ('' if full else ' (prefix)')
    else:
        digest = 'none in its URL or name'
    path = entry.find()
    size = f'{osp.getsize(path):,} bytes (the local copy)' if path else 'unknown here (no copy)'
    print(f'{entry.file_name}\n  url:    {entry.url or "unknown (set the path in the config)"}'
          f'\n  digest: {digest}\n  size:   {size}')
    keys = sorted({key for _, key, _ in entry.uses})
    print(f'  named by {len({c for c, _, _ in entry.uses})} configs, as {", ".join(keys)}')
    print('  looked for in: ' + '\n                 '.join(entry.locations()))


def check(files: Dict[str, WeightFile]) -> int:
    bad = 0
    for name, entry in files.items():
        path = entry.find()
        if path is None:
            print(f'missing  {name}')
            bad += 1
            continue
        valid, text = check_weights_file(path, entry.digest)
        print(f'{"ok" if valid else "BAD":<8} {name}: {path} ({text})')
        bad += not valid
    print(f'\n{len(files) - bad} of {len(files)} files present and valid'
          + ('; missing or bad files: `python tools/weights.py download`, or copy them to '
             '$WSSS_WEIGHTS_DIR' if bad else ''))
    return 1 if bad else 0


def download(files: Dict[str, WeightFile]) -> int:
    for name, entry in files.items():
        if entry.find() is None:
            if entry.url is None:
                print(f'{name}: no URL known; put the file in $WSSS_WEIGHTS_DIR')
                continue
            try:
                find_weights(entry.url, config_key=entry.uses[0][1])
            except FileNotFoundError as e:
                print(f'error: {e}', file=sys.stderr)
    return check(files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('command', choices=['list', 'check', 'download'])
    parser.add_argument('files', nargs='*', help='only these file names (default: all)')
    parser.add_argument('--configs', default=osp.join(REPO, 'configs'),
                        help="the folder of configs to read (default: the repository's)")
    args = parser.parse_args()
    files = select(shipped_weights(config_files(args.configs)), args.files)
    if args.command == 'list':
        for entry in files.values():
            show(entry)
        print(f'\n{len(files)} files; downloads go to {download_cache_dir()}')
        return 0
    return check(files) if args.command == 'check' else download(files)


if __name__ == '__main__':
    sys.exit(main())
