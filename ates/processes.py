"""The Procfile, run by supervisord: every process restarted when it dies, all stopped on Ctrl-C.

The Procfile stays the one list of aTES's processes (the e2e tests and compose read it too);
`python -m ates.processes supervisord.conf` writes the supervisord configuration that runs it.
supervisord is chosen over honcho because it restarts a process that exits or is killed.
"""

import argparse
import shlex
import sys
from pathlib import Path

from ates.config import ROOT


def read_procfile(path: Path) -> dict[str, str]:
    """`name: command` lines, in order; blank lines and `#` comments are skipped."""
    processes = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, colon, command = line.partition(":")
        if not colon or not name.strip() or not command.strip():
            raise ValueError(f"{path}:{number}: expected 'name: command', got {line!r}")
        processes[name.strip()] = command.strip()
    return processes


def supervisord_config(processes: dict[str, str], directory: Path, run_dir: Path) -> str:
    """Each process under `bash -c` (the Procfile's commands are shell), logs on supervisord's stdout."""
    sections = [
        "[supervisord]",
        "nodaemon=true",
        "logfile=/dev/null",
        "logfile_maxbytes=0",
        f"pidfile={run_dir / 'supervisord.pid'}",
        "",
        "[unix_http_server]",
        f"file={run_dir / 'supervisor.sock'}",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{run_dir / 'supervisor.sock'}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    ]
    for name, command in processes.items():
        sections += [
            "",
            f"[program:{name}]",
            f"command=bash -c {shlex.quote(command).replace('%', '%%')}",
            f"directory={directory}",
            "autorestart=true",
            "startsecs=1",
            "startretries=1000",  # a worker waiting for the broker to come back keeps being retried
            "stopsignal=TERM",
            "stopwaitsecs=30",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=/dev/stdout",
            "stdout_logfile_maxbytes=0",
        ]
    return "\n".join(sections) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ates.processes", description=__doc__.splitlines()[0]
    )
    parser.add_argument("output", type=Path, help="where to write the supervisord configuration")
    parser.add_argument("--procfile", type=Path, default=ROOT / "Procfile")
    args = parser.parse_args(argv)
    try:
        processes = read_procfile(args.procfile)
    except (OSError, ValueError) as error:
        print(f"ates.processes: {error}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(supervisord_config(processes, ROOT, args.output.resolve().parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
