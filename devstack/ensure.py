"""``python -m devstack.ensure --rabbitmq [--install]``: make sure local
infrastructure runs; exits non-zero with the reason when it cannot."""

from __future__ import annotations

import argparse
import sys

from devstack import procs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rabbitmq", action="store_true", help="RabbitMQ on 127.0.0.1:5672")
    parser.add_argument("--install", action="store_true", help="apt-get install what is missing")
    args = parser.parse_args(argv)
    if args.rabbitmq:
        try:
            print(procs.ensure_rabbitmq(install=args.install), file=sys.stderr)
        except procs.StartError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
