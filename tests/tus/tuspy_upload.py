"""Uploads a file to handover with tuspy, a stock tus client from PyPI:
first part of it with one uploader, then the rest with a second uploader
that resumes at the URL (as after a dropped link). Prints the URL.

Usage: tuspy_upload.py ENDPOINT TOKEN CHILD KIND FILE
"""
import sys

from tusclient import client

endpoint, token, child, kind, path = sys.argv[1:6]
tus = client.TusClient(endpoint, headers={"Authorization": "Bearer " + token})
first = tus.uploader(path, chunk_size=512 * 1024, metadata={"child": child, "kind": kind})
first.upload_chunk()
first.upload_chunk()
assert first.offset == 1024 * 1024, first.offset
url = first.url
# A new uploader, as after the phone restarted: it asks the server where
# the upload stands (HEAD) and sends the rest.
second = tus.uploader(path, url=url, chunk_size=1024 * 1024)
assert second.offset == 1024 * 1024, second.offset
second.upload()
print(url)
