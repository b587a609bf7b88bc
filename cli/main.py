"""The `ates` command: `ates login` signs in through the SSO, `ates token` prints a valid access token,
`ates dlq` shows, replays and discards dead-lettered events (operators: straight to RabbitMQ),
`ates trace TASK_ID` shows one task's path through the services (admins), `ates demo` fills a
running system with popugs and a simulated day."""

import argparse
import sys

from ates.tokens import InvalidToken, TokenVerifier, auth_issuer
from cli import demo, dlq, token_store, trace
from cli import login as sign_in


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "dlq":
        return dlq.run(args)
    if args.command == "trace":
        return trace.run(args)
    if args.command == "demo":
        return demo.run(args)
    try:
        if args.command == "login":
            return _login(args)
        print(token_store.current_access_token(token_store.token_path()))
        return 0
    except (sign_in.LoginFailed, token_store.NotSignedIn) as error:
        print(f"ates: {error}", file=sys.stderr)
        return 1


def _login(args) -> int:
    tokens = sign_in.login(
        args.issuer,
        open_browser=not args.no_browser,
        announce=lambda text: print(text, file=sys.stderr, flush=True),
    )
    try:
        principal = TokenVerifier(args.issuer).principal(tokens["access_token"])
    except InvalidToken as error:
        raise sign_in.LoginFailed(
            f"the SSO gave a token that does not verify: {error.reason}"
        ) from None
    if args.print_token:
        print(tokens["access_token"])
        return 0
    path = token_store.token_path()
    token_store.save(tokens, path)
    print(
        f"Signed in as {principal.username} ({principal.role}); the tokens are in {path}.",
        file=sys.stderr,
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ates", description="The aTES command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    login = commands.add_parser("login", help="sign in through the SSO in a browser")
    login.add_argument(
        "--no-browser", action="store_true", help="print the sign-in address instead of opening it"
    )
    login.add_argument(
        "--print",
        dest="print_token",
        action="store_true",
        help="print the access token instead of storing the tokens",
    )
    login.add_argument(
        "--issuer",
        default=auth_issuer(),
        help="the SSO (default: ATES_AUTH_ISSUER or the local auth)",
    )
    commands.add_parser(
        "token", help="print the stored access token, renewed first when it has expired"
    )
    dlq.add_parser(commands)
    trace.add_parser(commands)
    demo.add_parser(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
