"""Index of a demo or simulate output folder: one line per email (file, recipient, date, subject,
SHA-256 of the whole file) and per feed (file, SHA-256), to compare two runs with `diff`.

    python bench/demo_index.py demo-output > before.txt   # ... change, re-run the demo ...
    python bench/demo_index.py demo-output > after.txt && diff before.txt after.txt
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import sys
from pathlib import Path


def index_lines(root: Path) -> list[str]:
    lines = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in {".eml", ".ics", ".csv"}:
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()[:16]
        where = path.relative_to(root)
        if path.suffix == ".eml":
            message = email.message_from_bytes(data, policy=email.policy.default)
            lines.append(
                f"{where}\t{message['To']}\t{message['Date']}\t{message['Subject']}\t{digest}"
            )
        else:
            lines.append(f"{where}\t{digest}")
    return lines


if __name__ == "__main__":
    print("\n".join(index_lines(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output"))))
