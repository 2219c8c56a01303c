#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/corpus/<target>/ (seed-*.txt files):
the example config and posts, cadence, duration and secret strings from the docs and tests, and
the networks' answers that the adapters' tests record. Run from fuzz/; `cargo fuzz cmin` then
keeps only the inputs that add coverage."""
import glob, json, os

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
corpus = os.path.join(root, "fuzz", "corpus")

def put(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)

def read(p):
    with open(os.path.join(root, p), "rb") as f:
        return f.read()

# config: crieur.toml [NUL posts/*.toml]
example = read("config/crieur.toml")
put("config", "example.toml", example)
for p in sorted(glob.glob(os.path.join(root, "config/posts/*.toml"))):
    put("config", "example+" + os.path.basename(p), example + b"\0" + read(p))
put("config", "minimal.toml", 'timezone = "UTC"\n[channels.blog]\nnetwork = "webhook"\nurl = "https://b.example.com/h"\nsecret = "env:S"\ncadence = ["daily 08:00"]\n')
put("config", "postgres.toml", 'timezone = "Europe/Paris"\n[storage]\nurl = "postgres://crieur@db.internal/crieur"\nkey = "credential:crieur-key"\n[queue]\nmissed = "skip"\nmax_late = "1h30m"\nfiles = ["posts/*.toml"]\n')
put("config", "cron.toml", 'timezone = "America/New_York"\n[channels.x]\nnetwork = "x"\ncadence = ["cron:0 9 * * MON-FRI", "Sat 11:00"]\naccess_token = "file:secrets/x"\nmax_length = 25000\n[policy.channels.x]\nquiet_hours = "22:00-07:00"\n')
put("config", "bad-nesting.toml", "a = " + "[" * 200 + "]" * 200 + "\n")
put("config", "inline-tables.toml", 'timezone = "UTC"\nmentions = { a = { name = "A", x = "@a" } }\npolicy = { mix = { hr = 0.5 }, utm = { source = "{network}" } }\n')

# front_matter: Markdown posts
for p in sorted(glob.glob(os.path.join(root, "config/posts/*.md"))):
    put("front_matter", os.path.basename(p), read(p))
put("front_matter", "short.md", '+++\nid = "a"\nchannels = ["blog"]\ntitle = "T"\nslug = "t"\ntags = ["x"]\nat = "2026-12-01 09:00"\n+++\n\n# Body\n\nText with a [link](https://example.com).\n')
put("front_matter", "unclosed.md", '+++\nid = "a"\n')
put("front_matter", "crlf.md", '+++\r\nid = "b"\r\nchannels = ["blog"]\r\n+++\r\nbody\r\n')

# cadence: one cadence a line
for i, c in enumerate(["Mon-Fri 09:15\nMon-Fri 17:30\nSat 11:00", "Tue,Thu 10:00", "daily 08:00", "Sat-Mon 02:30",
                       "cron:0 9 * * MON-FRI", "cron:30 2 * * *", "cron:0 0 30 2 *", "cron:*/15 8-18 * * 1-5",
                       "cron:0 12 L * *", "cron:0 9 * * 5#3", "cron:0 0 9 * * *", "cron:0 10 1,15 * *",
                       "Wed 12:30\ncron:0 3 * * SUN", "mon-FRI 9:00", "cron:@daily", "cron:0 1-3 * * *"]):
    put("cadence", f"{i:02}.txt", c)

# duration
for i, d in enumerate(["90s", "30m", "2h", "7d", "1h30m", "1h 30m", "0s", "35d", "28d", "36600d", "1d2h3m4s"]):
    put("duration", f"{i:02}.txt", d)

# secret_ref
for i, s in enumerate(["env:X_ACCESS_TOKEN", "file:secrets/x-token", "file:/etc/crieur/key", "credential:crieur-key",
                       "credential:x-refresh", "env:", "sk-live-abcdef123456", "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]):
    put("secret_ref", f"{i:02}.txt", s)

def answer(status, headers=(), body=b"", flags=""):
    head = f"{status}{(' ' + flags) if flags else ''}\n" + "".join(f"{k}: {v}\n" for k, v in headers) + "\n"
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    return head.encode() + body

def problem(status, detail):
    return {"title": "Error", "detail": detail, "type": "about:blank", "status": status}

# x_response
x = [
    ("created", answer(201, [("content-type", "application/json"), ("x-rate-limit-limit", "100"), ("x-rate-limit-remaining", "99"), ("x-rate-limit-reset", "1793787300")], {"data": {"id": "1861", "text": "x"}})),
    ("created-not-json", answer(201, [], "not json")),
    ("created-no-id", answer(201, [], {"data": {}})),
    ("unread", answer(201, [], "", "unread")),
    ("bad-request", answer(400, [], problem(400, "Invalid Request: text too long"))),
    ("unauthorized", answer(401, [], problem(401, "Unauthorized"))),
    ("duplicate", answer(403, [], problem(403, "You are not allowed to create a Tweet with duplicate content."))),
    ("forbidden", answer(403, [], {"errors": [{"message": "forbidden", "detail": "no access"}]})),
    ("rate-limited", answer(429, [("x-rate-limit-limit", "100"), ("x-rate-limit-remaining", "0"), ("x-rate-limit-reset", "1793787300"), ("x-user-limit-24hour-remaining", "0"), ("x-user-limit-24hour-reset", "1793872800")], problem(429, "Too Many Requests"))),
    ("retry-after", answer(429, [("retry-after", "Wed, 04 Nov 2026 07:28:00 GMT")], "")),
    ("server", answer(503, [], "upstream connect error")),
    ("redirect", answer(301, [("location", "https://api.twitter.com/2/tweets")], "")),
    ("timeline-found", answer(200, [("x-fuzz-text", "Launch day! Read https://example.com/post?utm_source=x & share")], {"data": [{"id": "501", "text": "Something else", "created_at": "2026-11-26T10:00:01.000Z"}, {"id": "500", "text": "Launch day! Read https://t.co/Zx9 &amp; share", "created_at": "2026-11-26T10:00:01.000Z"}], "meta": {"result_count": 2}}, "reconcile")),
    ("timeline-empty", answer(200, [], {"meta": {"result_count": 0}}, "reconcile")),
    ("timeline-not-list", answer(200, [], {"data": {"id": "1"}}, "reconcile")),
    ("timeline-error", answer(503, [], problem(503, "Service Unavailable"), "reconcile")),
]
for n, d in x:
    put("x_response", n, d)

def li_error(status, body):
    return answer(status, [("content-type", "application/json"), ("x-li-uuid", "AAYf0E")], body)

share = "urn:li:share:7012345678901234567"
li = [
    ("created", answer(201, [("x-restli-id", share), ("x-linkedin-id", "7012345678901234567")], "")),
    ("created-ugc", answer(201, [("x-restli-id", "urn:li:ugcPost:7012345678901234568")], "")),
    ("created-no-id", answer(201, [], "")),
    ("invalid-token", li_error(401, {"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"})),
    ("revoked", li_error(401, {"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "The token used in the request has been revoked by the user"})),
    ("denied", li_error(403, {"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED", "message": "Not enough permissions to access: partnerApiPostsExternal.CREATE.20260901"})),
    ("duplicate-sent", answer(422, [], {"status": 422, "message": f"ERROR :: /commentary :: Content is a duplicate of {share}", "errorDetails": {"inputErrors": [{"code": "DUPLICATE_POST"}]}}, "sent")),
    ("duplicate", li_error(422, {"status": 422, "message": "Duplicate content", "errorDetails": {"inputErrors": [{"code": "DUPLICATE_POST", "description": f"see {share}"}]}})),
    ("too-long", li_error(400, {"status": 400, "code": "FIELD_ARRAY_SIZE_TOO_HIGH", "message": "/commentary :: length 3400 exceeds 3000"})),
    ("bad-author", li_error(422, {"status": 422, "message": "bad author"})),
    ("version", li_error(426, {"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version 20240101 is not active"})),
    ("throttled", li_error(429, {"status": 429, "message": "Resource level throttle limit for calls to this resource is reached."})),
    ("throttled-retry-after", answer(429, [("retry-after", "3600")], "")),
    ("server", answer(500, [], "")),
]
for n, d in li:
    put("linkedin_response", n, d)

def gerr(code, sub, msg, status=400, headers=(), flags=""):
    e = {"message": msg, "type": "OAuthException", "code": code, "fbtrace_id": "AZtrace42x"}
    if sub is not None:
        e["error_subcode"] = sub
    return answer(status, list(headers), {"error": e}, flags)

buc = '{"104857600123":[{"type":"pages","call_count":100,"total_cputime":10,"total_time":10,"estimated_time_to_regain_access":17}]}'
fb = [
    ("published", answer(200, [("x-app-usage", '{"call_count":28,"total_cputime":25,"total_time":25}')], '{"id":"104857600123_5550001"}')),
    ("published-bad-id", answer(200, [], '{"id":"1_2/../x"}')),
    ("published-empty", answer(200, [], "")),
    ("expired-token", gerr(190, 463, "Error validating access token: Session has expired", 400)),
    ("permission", gerr(200, None, "(#200) The user hasn't authorized the application to perform this action", 403)),
    ("duplicate", gerr(506, None, "Duplicate status message", 400)),
    ("rate-limit", gerr(32, None, "Page request limit reached", 400, [("x-business-use-case-usage", buc)])),
    ("app-limit", gerr(4, None, "Application request limit reached", 400, [("x-app-usage", '{"call_count":100,"total_cputime":5,"total_time":5}')])),
    ("transient", gerr(2, None, "An unexpected error has occurred. Please retry your request later.", 500)),
    ("no-error-object", answer(502, [], "<html>Bad Gateway</html>")),
    ("throttled-no-object", answer(429, [("retry-after", "60")], "")),
    ("reconcile-found", answer(200, [("x-fuzz-text", "Pipelines fail quietly.\\nSève tells you first.")], {"data": [{"id": "104857600123_900", "message": "Another post", "created_time": "2026-11-03T12:00:01+0000"}, {"id": "104857600123_901", "created_time": "2026-11-03T12:00:00+0000"}, {"id": "104857600123_902", "message": "Pipelines fail quietly. \r\nSève tells you first.\n", "created_time": "2026-11-03T11:59:31+0000"}], "paging": {"cursors": {"before": "a", "after": "b"}}}, "reconcile")),
    ("reconcile-more", answer(200, [], {"data": [], "paging": {"next": "https://graph.facebook.com/v25.0/104857600123/published_posts?after=b"}}, "reconcile")),
    ("reconcile-error", gerr(190, None, "Invalid OAuth access token.", 400, (), "reconcile")),
]
for n, d in fb:
    put("facebook_response", n, d)

wh = [
    ("ok-json", answer(200, [], {"id": "post-42", "url": "https://blog.example.com/2026/data-contracts"})),
    ("ok-number", answer(201, [], {"id": 42})),
    ("no-content", answer(204, [], "")),
    ("ok-unread", answer(200, [], "", "unread")),
    ("gone", answer(410, [], "gone")),
    ("redirect", answer(308, [("location", "/hooks/v2/crieur")], "")),
    ("conflict", answer(409, [], "already have it")),
    ("unauthorized", answer(401, [], "bad signature")),
    ("busy", answer(503, [("retry-after", "120")], "maintenance")),
    ("throttled", answer(429, [("retry-after", "Wed, 04 Nov 2026 07:28:00 GMT")], "")),
    ("error", answer(500, [], "boom")),
]
for n, d in wh:
    put("webhook_response", n, d)

rl = [
    ("x", answer(200, [("x-rate-limit-limit", "100"), ("x-rate-limit-remaining", "0"), ("x-rate-limit-reset", "1793787300"), ("x-app-limit-24hour-limit", "10000"), ("x-app-limit-24hour-remaining", "0"), ("x-app-limit-24hour-reset", "1793872800"), ("x-user-limit-24hour-remaining", "17"), ("x-user-limit-24hour-reset", "1793872800")])),
    ("retry-seconds", answer(429, [("retry-after", "120")])),
    ("retry-imf", answer(429, [("retry-after", "Wed, 04 Nov 2026 07:28:00 GMT")])),
    ("retry-rfc850", answer(429, [("retry-after", "Wednesday, 04-Nov-26 07:28:00 GMT")])),
    ("retry-asctime", answer(429, [("retry-after", "Wed Nov  4 07:28:00 2026")])),
    ("fb", answer(200, [("x-app-usage", '{"call_count":85,"total_cputime":20,"total_time":30}'), ("x-page-usage", '{"call_count":50,"total_cputime":5,"total_time":5}'), ("x-business-use-case-usage", buc)])),
]
for n, d in rl:
    put("rate_limit_headers", n, d)

# media_sniff and media_strip: the test pictures, and small files of every kind built here byte
# by byte (with the metadata blocks a phone or an editor writes), cut short, or not media at all.
import struct, zlib

def box(kind, payload):
    return struct.pack(">I", 8 + len(payload)) + kind + payload

def riff_chunk(kind, payload):
    pad = b"\0" if len(payload) % 2 else b""
    return kind + struct.pack("<I", len(payload)) + payload + pad

def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

team = read("tests/fixtures/media/lyon-team.jpg")
desk = read("tests/fixtures/media/lyon-desk.png")
gif = (b"GIF89a\x01\x00\x01\x00\x00\x00\x00"
       b"\x21\xfe\x06secret\x00"
       b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b")
animated = (b"GIF89a\x02\x00\x02\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
            b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
            b"\x21\xff\x0bXMP DataXMP\x0c<x:xmpmeta/>\x00"
            + (b"\x21\xf9\x04\x00\x0a\x00\x00\x00\x2c\x00\x00\x00\x00\x02\x00\x02\x00\x00\x02\x02\x84\x51\x00") * 2
            + b"\x3b")
vp8l = riff_chunk(b"VP8L", b"\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")
vp8x = riff_chunk(b"VP8X", bytes([0x0c, 0, 0, 0]) + (0).to_bytes(3, "little") + (0).to_bytes(3, "little"))
webp_body = b"WEBP" + vp8x + vp8l + riff_chunk(b"EXIF", team[10:10 + 0xb0 - 8]) + riff_chunk(b"XMP ", b"<x:xmpmeta exif:GPSLatitude='45,45.602N'/>")
webp = b"RIFF" + struct.pack("<I", len(webp_body)) + webp_body
tkhd = bytes(4) + bytes(8) + struct.pack(">I", 1) + bytes(4) + struct.pack(">I", 1000) + bytes(8) + bytes(8) \
    + struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000) + struct.pack(">II", 320 << 16, 240 << 16)
mvhd = bytes(4) + bytes(8) + struct.pack(">II", 1000, 1000) + struct.pack(">IH", 0x10000, 0x100) + bytes(10) \
    + struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000) + bytes(24) + struct.pack(">I", 2)
udta = box(b"udta", box(b"\xa9xyz", struct.pack(">HH", 14, 0x15c7) + b"+45.7601+004.8400/"))
mp4 = box(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41") \
    + box(b"moov", box(b"mvhd", mvhd) + box(b"trak", box(b"tkhd", tkhd)) + udta + box(b"meta", bytes(4) + box(b"hdlr", bytes(24)))) \
    + box(b"mdat", bytes(64))
upright = team.replace(b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x01", b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06", 1)
png_text = desk[:33] + png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta/>") + png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"Jeanne")) + desk[33:]
media = [
    ("lyon-team.jpg", team),
    ("lyon-desk.png", desk),
    ("not-a-photo.jpg", read("crates/media/tests/data/not-a-photo.jpg")),
    ("comment.gif", gif),
    ("animated-xmp.gif", animated),
    ("exif-xmp.webp", webp),
    ("udta-meta.mp4", mp4),
    ("orientation-6.jpg", upright),
    ("itxt-ztxt.png", png_text),
    ("cut.jpg", team[: len(team) // 2]),
    ("cut.png", desk[:60]),
    ("cut.mp4", mp4[:40]),
    ("text.txt", "Hello, this is not a photo.\n"),
]
for n, d in media:
    put("media_sniff", n, d)
    put("media_strip", n, d)
