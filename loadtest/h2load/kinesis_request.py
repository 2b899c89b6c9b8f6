#!/usr/bin/python3
"""Writes a valid, SigV4-signed Kinesis request for h2load: the body to a file and the headers
(one "name: value" per line) to another. h2load replays the same bytes, so the signature stays
valid for the 5 minutes AWS allows for clock skew (kinesis-protocol.md §3).

usage: kinesis_request.py OP ENDPOINT STREAM BODY_OUT HEADERS_OUT [--record-size N] [--records N]
OP: PutRecord | PutRecords | GetRecords. The stream is created (1 shard) when missing; for
GetRecords a TRIM_HORIZON iterator of the first shard is fetched (an iterator can be reused
until it expires). Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY [/ AWS_SESSION_TOKEN],
AWS_REGION or AWS_DEFAULT_REGION (default us-east-1); without them requests are unsigned.
Standard library only."""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import sys
import time
import urllib.parse

CT = "application/x-amz-json-1.1"


def sign_headers(host, target, body):
    """Returns the header dict for one request, signed when credentials are set."""
    headers = {"content-type": CT, "x-amz-target": "Kinesis_20131202." + target}
    akid, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not akid or not secret:
        return headers
    token = os.environ.get("AWS_SESSION_TOKEN")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers["x-amz-date"] = amz_date
    if token:
        headers["x-amz-security-token"] = token
    canon = dict(headers, host=host)
    names = sorted(canon)
    creq = "\n".join(["POST", "/", "", "".join(f"{n}:{canon[n]}\n" for n in names),
                      ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = f"{day}/{region}/kinesis/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (day, region, "kinesis", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={akid}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={sig}")
    return headers


def call(url, target, payload):
    """One signed HTTP/1.1 call (setup only). Returns (status, parsed body or {})."""
    body = json.dumps(payload).encode()
    conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(url.netloc, timeout=10)
    conn.request("POST", "/", body, sign_headers(url.netloc, target, body))
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data) if data else {}


def ensure_stream(url, stream):
    status, out = call(url, "DescribeStream", {"StreamName": stream})
    if status != 200:
        if out.get("__type", "").split("#")[-1] != "ResourceNotFoundException":
            sys.exit(f"DescribeStream: HTTP {status} {out}")
        status, out = call(url, "CreateStream", {"StreamName": stream, "ShardCount": 1})
        if status != 200:
            sys.exit(f"CreateStream: HTTP {status} {out}")
    for _ in range(300):
        status, out = call(url, "DescribeStream", {"StreamName": stream})
        desc = out.get("StreamDescription", {})
        if status == 200 and desc.get("StreamStatus") == "ACTIVE":
            return desc["Shards"][0]["ShardId"]
        time.sleep(0.1)
    sys.exit(f"stream {stream} not ACTIVE after 30 s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("op", choices=["PutRecord", "PutRecords", "GetRecords"])
    ap.add_argument("endpoint")
    ap.add_argument("stream")
    ap.add_argument("body_out")
    ap.add_argument("headers_out")
    ap.add_argument("--record-size", type=int, default=100)
    ap.add_argument("--records", type=int, default=500, help="records per PutRecords")
    a = ap.parse_args()
    url = urllib.parse.urlsplit(a.endpoint)
    if url.scheme not in ("http", "https") or not url.netloc:
        sys.exit("endpoint must be http[s]://host[:port]")
    try:
        shard = ensure_stream(url, a.stream)
        data = base64.b64encode(b"h" * a.record_size).decode()
        if a.op == "PutRecord":
            payload = {"StreamName": a.stream, "Data": data, "PartitionKey": "pk"}
        elif a.op == "PutRecords":
            payload = {"StreamName": a.stream, "Records": [
                {"Data": data, "PartitionKey": f"pk{i}"} for i in range(a.records)]}
        else:
            status, out = call(url, "GetShardIterator", {
                "StreamName": a.stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"})
            if status != 200:
                sys.exit(f"GetShardIterator: HTTP {status} {out}")
            payload = {"ShardIterator": out["ShardIterator"], "Limit": 100}
    except OSError as e:
        sys.exit(f"endpoint {a.endpoint} unreachable: {e}")
    body = json.dumps(payload, separators=(",", ":")).encode()
    with open(a.body_out, "wb") as f:
        f.write(body)
    with open(a.headers_out, "w") as f:
        for k, v in sign_headers(url.netloc, a.op, body).items():
            f.write(f"{k}: {v}\n")


if __name__ == "__main__":
    main()
