"""Beak login (seed 004) on a real (SQLite) database: register a beak, log in with a new photo of it,
through the OAuth flow like a password login; other beaks, non-images and oversized photos are refused,
and failed beak logins count toward the same limit as wrong passwords. Images are drawn here."""

import base64
import hashlib
import io
import random
import re
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image, ImageDraw

from ates import migrations
from ates.config import load_settings
from auth import service
from auth.app import create_app
from auth.settings import load_auth_settings

ROOT = Path(__file__).resolve().parents[2]
CLI_CALLBACK = "http://127.0.0.1:8976/callback"


def beak_photo(seed: int, size=(400, 300), image_format="PNG", retaken=False) -> bytes:
    """A made-up beak drawn from `seed`; `retaken` photographs it again: smaller, noisier, as JPEG."""
    rnd = random.Random(seed)
    image = Image.new("RGB", size, tuple(rnd.randrange(40, 200) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rnd.randrange(size[0]), rnd.randrange(size[1])
        x1, y1 = (
            x0 + rnd.randrange(size[0] // 10, size[0] // 2),
            y0 + rnd.randrange(size[1] // 10, size[1] // 2),
        )
        draw.ellipse([x0, y0, x1, y1], fill=tuple(rnd.randrange(256) for _ in range(3)))
    if retaken:
        image = image.resize((size[0] * 3 // 4, size[1] * 3 // 4))
        pixels, noise = image.load(), random.Random(seed + 1)
        for _ in range(2000):
            x, y = noise.randrange(image.width), noise.randrange(image.height)
            pixels[x, y] = tuple(max(0, min(255, c + noise.randint(-25, 25))) for c in pixels[x, y])
        image_format = "JPEG"
    buffer = io.BytesIO()
    image.save(buffer, image_format, **({"quality": 75} if image_format == "JPEG" else {}))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    var = tmp_path_factory.mktemp("auth-beak")
    env = {"ATES_VAR_DIR": str(var), "ATES_AUTH_ISSUER": "http://localhost"}
    migrations.upgrade(ROOT / "auth" / "migrations", f"sqlite:///{var / 'auth.db'}")
    return create_app(load_settings("auth", env), load_auth_settings(env))


def csrf_token(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def post_photo(client, path: str, photo: bytes, filename="beak.png", **fields):
    data = {
        "csrf_token": csrf_token(client, path),
        "photo": (io.BytesIO(photo), filename),
        **fields,
    }
    return client.post(path, data=data, content_type="multipart/form-data")


@pytest.fixture(scope="module")
def kesha(app):
    """An account with the beak of seed 7 registered through the page."""
    service.create_account(
        app.extensions["ates.uow"], "kesha", "password-1", "kesha@uberpopug.example"
    )
    client = app.test_client()
    client.post(
        "/login",
        data={
            "csrf_token": csrf_token(client, "/login"),
            "username": "kesha",
            "password": "password-1",
        },
    )
    response = post_photo(client, "/beak", beak_photo(7))
    assert response.status_code == 200 and "Your beak is registered" in response.text
    return "kesha"


def test_a_new_photo_of_the_registered_beak_logs_in(app, kesha):
    client = app.test_client()
    response = post_photo(
        client, "/login/beak", beak_photo(7, retaken=True), "beak.jpg", username=kesha
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "as <strong>kesha</strong>" in client.get("/").text


def test_beak_login_plugs_into_the_oauth_flow_like_a_password_login(app, kesha):
    client = app.test_client()
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    to_login = client.get(
        "/oauth/authorize",
        query_string={
            "response_type": "code",
            "client_id": "ates-cli",
            "redirect_uri": CLI_CALLBACK,
            "state": "beaky",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    next_path = parse_qs(urlsplit(to_login.headers["Location"]).query)["next"][0]
    logged_in = post_photo(
        client,
        "/login/beak",
        beak_photo(7, retaken=True),
        "beak.jpg",
        username=kesha,
        next=next_path,
    )
    assert logged_in.headers["Location"] == next_path
    back = client.get(next_path)
    assert back.status_code == 302 and back.headers["Location"].startswith(f"{CLI_CALLBACK}?code=")
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    tokens = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "ates-cli",
            "redirect_uri": CLI_CALLBACK,
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200 and tokens.json["token_type"] == "Bearer"


def test_another_beak_is_refused(app, kesha):
    response = post_photo(app.test_client(), "/login/beak", beak_photo(8), username=kesha)
    assert response.status_code == 200
    assert "that beak is not the one registered" in response.text


def test_an_unknown_popug_is_refused_like_a_wrong_beak(app):
    response = post_photo(app.test_client(), "/login/beak", beak_photo(7), username="nobody-here")
    assert response.status_code == 200 and "that beak is not the one registered" in response.text


@pytest.mark.parametrize("path", ["/login/beak", "/beak"])
@pytest.mark.parametrize(
    "photo, filename, message",
    [
        (b"I am a text file, honest", "beak.png", "That file is not a PNG or JPEG image."),
        (beak_photo(7, image_format="GIF"), "beak.png", "That file is not a PNG or JPEG image."),
        (
            beak_photo(7, size=(4100, 80)),
            "beak.png",
            "The photo is 4100×80 pixels; each side must be 64 to 4096",
        ),
        (beak_photo(7, size=(40, 40)), "beak.png", "The photo is 40×40 pixels"),
        (beak_photo(7) + bytes(5 * 1024 * 1024), "beak.png", "The photo is larger than 5 MB."),
    ],
)
def test_what_is_not_a_real_png_or_jpeg_within_bounds_is_refused_with_a_clear_message(
    app, kesha, path, photo, filename, message
):
    client = app.test_client()
    client.post(
        "/login",
        data={
            "csrf_token": csrf_token(client, "/login"),
            "username": kesha,
            "password": "password-1",
        },
    )
    response = post_photo(client, path, photo, filename, username=kesha)
    assert response.status_code == 400 and message in response.text


def test_failed_beak_logins_count_toward_the_same_limit_as_wrong_passwords(app):
    service.create_account(
        app.extensions["ates.uow"], "guessed", "password-1", "g@uberpopug.example"
    )
    client = app.test_client()
    for _ in range(3):
        assert (
            post_photo(client, "/login/beak", beak_photo(9), username="guessed").status_code == 200
        )
    for _ in range(2):
        client.post(
            "/login",
            data={
                "csrf_token": csrf_token(client, "/login"),
                "username": "guessed",
                "password": "wrong-password",
            },
        )
    refused = post_photo(client, "/login/beak", beak_photo(9), username="guessed")
    assert refused.status_code == 429 and "Too many failed logins" in refused.text
    refused = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(client, "/login"),
            "username": "guessed",
            "password": "password-1",
        },
    )
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_registering_a_beak_needs_a_login(app):
    location = urlsplit(app.test_client().get("/beak").headers["Location"])
    assert (location.path, parse_qs(location.query)["next"]) == ("/login", ["/beak"])
