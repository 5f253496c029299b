"""`maldoc samples generate --out DIR --count N --seed S`: the command the lead's CLI registers."""

from __future__ import annotations

import argparse
from collections import Counter


def register(subparsers: argparse._SubParsersAction) -> None:
    samples = subparsers.add_parser("samples", help="synthetic, inert sample documents",
                                    description="Synthetic, inert sample documents for demos, tests and training.")
    sub = samples.add_subparsers(dest="samples_command", required=True)
    gen = sub.add_parser("generate", help="write N labelled samples and manifest.csv into a folder",
                         description="Write benign and malicious-looking (inert) samples of every supported "
                                     "format, with a manifest.csv of labels. Same seed, same bytes.")
    gen.add_argument("--out", required=True, help="output folder (created if missing)")
    gen.add_argument("--count", type=int, default=40, help="number of samples (default 40)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gen.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from maldoc.samples.generate import generate

    if args.count < 1:
        print("--count must be at least 1")
        return 2
    samples = generate(args.out, args.count, args.seed)
    labels = Counter(s.label for s in samples)
    size = sum(len(s.data) for s in samples)
    print(f"wrote {len(samples)} samples ({labels['malicious']} malicious, {labels['benign']} benign, "
          f"{size / 1024:.0f} KiB) and manifest.csv to {args.out}")
    return 0
